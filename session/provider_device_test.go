package session

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/store"
)

// memOP is an OpenID provider in memory, behind an http.RoundTripper, so
// that a provider's device login runs through the Manager in synctest's
// virtual time (which cannot pass over real sockets). Its token endpoint
// answers from a script: "pending", "slow_down", "denied", "expired",
// "503", "ok".
type memOP struct {
	issuer    string
	key       *rsa.PrivateKey
	expiresIn int

	mu     sync.Mutex
	script []string
	polls  []time.Time
}

var memOPKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func (f *memOP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	status, body := 200, any(nil)
	switch req.URL.Path {
	case oidc.WellKnown:
		body = map[string]any{
			"issuer": f.issuer, "authorization_endpoint": f.issuer + "/authorize",
			"token_endpoint": f.issuer + "/token", "jwks_uri": f.issuer + "/keys",
			"device_authorization_endpoint": f.issuer + "/device",
		}
	case "/keys":
		pub := f.key.PublicKey
		body = map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString([]byte{byte(pub.E >> 16), byte(pub.E >> 8), byte(pub.E)}),
		}}}
	case "/device":
		body = map[string]any{
			"device_code": "dev-code", "user_code": "WDJB-MJHT", "verification_uri": f.issuer + "/activate",
			"expires_in": f.expiresIn, "interval": 5,
		}
	case "/token":
		f.mu.Lock()
		f.polls = append(f.polls, time.Now())
		step := "pending"
		if len(f.script) > 0 {
			step, f.script = f.script[0], f.script[1:]
		}
		f.mu.Unlock()
		status = 400
		switch step {
		case "pending":
			body = map[string]string{"error": "authorization_pending"}
		case "slow_down":
			body = map[string]string{"error": "slow_down"}
		case "denied":
			body = map[string]string{"error": "access_denied"}
		case "expired":
			body = map[string]string{"error": "expired_token"}
		case "503":
			status, body = 503, map[string]string{"error": "temporarily_unavailable"}
		case "ok":
			status = 200
			now := time.Now()
			body = map[string]any{
				"access_token": "mem-access", "token_type": "Bearer", "refresh_token": "mem-refresh", "expires_in": 3600,
				"id_token": f.sign(map[string]any{
					"iss": f.issuer, "sub": "u1", "aud": "app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
					"email": "u1@example.com", "name": "User One",
				}),
			}
		}
	default:
		status, body = 404, map[string]string{"error": "not_found"}
	}
	b, _ := json.Marshal(body)
	return &http.Response{
		StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req,
	}, nil
}

// sign makes an RS256 JWS with kid k1.
func (f *memOP) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestProviderDevicePollingVirtualTime runs a provider's device login
// through the Manager in virtual time: the intervals of RFC 8628 section
// 3.5 (authorization_pending keeps the interval, slow_down adds 5 s for
// the rest of the flow, a 503 does not end it), and how each end reaches
// the editor: success saves the provider's record, access_denied and
// expired_token say so in LoginCompleted, and polling stops at
// DeviceLimit when it comes before the code's own expiry.
func TestProviderDevicePollingVirtualTime(t *testing.T) {
	key := memOPKey()
	for _, tc := range []struct {
		name      string
		script    []string
		limit     time.Duration
		wantGaps  []int // seconds from the start, then between polls
		wantEnd   int   // seconds from the start to LoginCompleted
		wantError string
	}{
		{name: "approved", script: []string{"pending", "slow_down", "503", "ok"}, wantGaps: []int{5, 5, 10, 10}, wantEnd: 30},
		{name: "denied", script: []string{"pending", "denied"}, wantGaps: []int{5, 5}, wantEnd: 10, wantError: "the sign-in was denied"},
		{name: "expired", script: []string{"slow_down", "expired"}, wantGaps: []int{5, 10}, wantEnd: 15, wantError: "device code expired"},
		{name: "device limit", limit: 12 * time.Second, wantGaps: []int{5, 5}, wantEnd: 12, wantError: "device code expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				op := &memOP{issuer: "https://id.example.com", key: key, expiresIn: 600, script: tc.script}
				prov, err := NewOIDCProvider("corp", oidc.Config{Issuer: op.issuer, ClientID: "app", HTTP: &http.Client{Transport: op, Timeout: 30 * time.Second}})
				if err != nil {
					t.Fatal(err)
				}
				st, err := store.OpenProvider(store.Home{Dir: "/nonexistent/codex-home"}, "corp", store.Options{Mode: store.ModeEphemeral})
				if err != nil {
					t.Fatal(err)
				}
				rec := newRecorder()
				m, err := New(Options{Store: st, Provider: prov, Editor: rec, DisableWatch: true, DeviceLimit: tc.limit})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if err := m.Start(t.Context()); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				dl, err := m.StartDeviceLogin(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				wantExp := start.Add(600 * time.Second)
				if tc.limit > 0 {
					wantExp = start.Add(tc.limit)
				}
				if dl.UserCode != "WDJB-MJHT" || dl.VerificationURL != op.issuer+"/activate" || !dl.ExpiresAt.Equal(wantExp) {
					t.Errorf("device login = %+v, want expiry %v", dl, wantExp)
				}
				var end time.Duration
				for end = 0; end < 2*time.Minute && len(completed(rec.all())) == 0; end += time.Second {
					time.Sleep(time.Second)
					synctest.Wait()
				}
				lc := completed(rec.all())
				if len(lc) != 1 {
					t.Fatalf("LoginCompleted = %+v", lc)
				}
				if int(end/time.Second) != tc.wantEnd {
					t.Errorf("LoginCompleted after %v, want %d s", end, tc.wantEnd)
				}
				var gaps []int
				prev := start
				for _, at := range op.polls {
					gaps = append(gaps, int(at.Sub(prev)/time.Second))
					prev = at
				}
				if diff := cmp.Diff(tc.wantGaps, gaps); diff != "" {
					t.Errorf("poll intervals in seconds (-want +got):\n%s", diff)
				}
				if tc.wantError != "" {
					if lc[0].Success || !strings.Contains(lc[0].Error, tc.wantError) {
						t.Errorf("LoginCompleted = %+v, want an error saying %q", lc[0], tc.wantError)
					}
					if _, err := m.Token(t.Context(), false); !errors.Is(err, ErrNotLoggedIn) {
						t.Errorf("Token after a failed login: %v", err)
					}
					return
				}
				if !lc[0].Success {
					t.Fatalf("LoginCompleted = %+v", lc[0])
				}
				tok, err := m.Token(t.Context(), false)
				if err != nil || tok.Type != AccountOIDC || tok.AccessToken != "mem-access" || tok.IDToken == "" || !tok.ExpiresAt.Equal(start.Add(30*time.Second+time.Hour)) {
					t.Errorf("Token = %+v, %v", tok, err)
				}
				st2, err := m.Status(t.Context(), false)
				if err != nil || st2.Account == nil || st2.Account.Subject != "u1" || st2.Account.Email != "u1@example.com" || st2.Account.Name != "User One" || st2.Provider == nil || st2.Provider.Name != "corp" {
					t.Errorf("Status = %+v, %v", st2, err)
				}
				if u := ofType[AccountUpdated](rec.all()); len(u) != 1 || u[0].AuthMode != store.AuthModeOIDC || u[0].Email != "u1@example.com" {
					t.Errorf("AccountUpdated = %+v", u)
				}
			})
		})
	}
}

// TestProviderDeviceCanceled: CancelLogin stops polling at once and the
// login ends "canceled".
func TestProviderDeviceCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		op := &memOP{issuer: "https://id.example.com", key: memOPKey(), expiresIn: 600}
		prov, err := NewOIDCProvider("corp", oidc.Config{Issuer: op.issuer, ClientID: "app", HTTP: &http.Client{Transport: op, Timeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := store.OpenProvider(store.Home{Dir: "/nonexistent/codex-home"}, "corp", store.Options{Mode: store.ModeEphemeral})
		rec := newRecorder()
		m, err := New(Options{Store: st, Provider: prov, Editor: rec, DisableWatch: true})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		dl, err := m.StartDeviceLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Second)
		if !m.CancelLogin(t.Context(), dl.LoginID) {
			t.Fatal("CancelLogin found no login")
		}
		synctest.Wait()
		if lc := completed(rec.all()); len(lc) != 1 || lc[0].Error != "canceled" {
			t.Errorf("LoginCompleted = %+v", lc)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(op.polls); n != 1 {
			t.Errorf("%d polls, want 1 (before the cancel at 7 s)", n)
		}
	})
}
