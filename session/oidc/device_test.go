package oidc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
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

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

// TestDeviceGrant runs RFC 8628 against the real provider: the user
// approves (or denies) the code on the provider's pages while the app
// polls. The provider's interval is 5 s, so each case waits that long;
// they run in parallel.
func TestDeviceGrant(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	for _, tc := range []struct {
		name    string
		approve bool
	}{{"approved", true}, {"denied", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dc, err := p.DeviceStart(t.Context())
			if err != nil {
				t.Fatalf("DeviceStart: %v", err)
			}
			if dc.UserCode == "" || !strings.HasPrefix(dc.VerificationURI, srv.URL+"/") || dc.Interval != 5*time.Second || dc.Expiry.IsZero() {
				t.Fatalf("device code = %+v", dc)
			}
			type result struct {
				tok oidc.Tokens
				err error
			}
			done := make(chan result, 1)
			go func() {
				tok, err := p.DeviceWait(t.Context(), dc)
				done <- result{tok, err}
			}()
			b := oidctest.NewBrowser()
			act := b.ApproveDevice
			if !tc.approve {
				act = b.DenyDevice
			}
			if err := act(t.Context(), dc.VerificationURI, dc.UserCode, oidctest.Username, oidctest.Password); err != nil {
				t.Fatalf("the user on the device page: %v", err)
			}
			r := <-done
			if !tc.approve {
				wantIs(t, r.err, oidc.ErrDeviceDenied)
				wantCode(t, r.err, "access_denied")
				return
			}
			if r.err != nil {
				t.Fatalf("DeviceWait: %v", r.err)
			}
			if r.tok.AccessToken == "" || r.tok.RefreshToken == "" || r.tok.Claims == nil || r.tok.Claims.Subject != oidctest.UserID {
				t.Fatalf("tokens: access %t, refresh %t, claims %+v", r.tok.AccessToken != "", r.tok.RefreshToken != "", r.tok.Claims)
			}
			if _, err := p.Refresh(t.Context(), r.tok.RefreshToken, r.tok.Claims.Subject); err != nil {
				t.Errorf("Refresh after the device grant: %v", err)
			}
		})
	}
}

// fakeOP is an in-memory provider behind an http.RoundTripper, so that
// device polling runs in synctest's virtual time (which cannot pass over
// real sockets). Its token endpoint answers from a script.
type fakeOP struct {
	issuer    string
	key       *rsa.PrivateKey
	expiresIn int

	mu     sync.Mutex
	script []string // "pending", "slow_down", "denied", "expired", "503", "neterr", "ok"
	polls  []time.Time
}

var fakeKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func (f *fakeOP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
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
		body = jwks(&f.key.PublicKey, "k1")
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
		case "neterr":
			return nil, errors.New("connection reset by peer")
		case "ok":
			status = 200
			now := time.Now()
			body = map[string]any{
				"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1", "expires_in": 3600,
				"id_token": signJWTNoT(f.key, map[string]any{
					"iss": f.issuer, "sub": "u1", "aud": "app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
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

// TestDevicePollingVirtualTime checks the intervals of RFC 8628 section
// 3.5 in virtual time: authorization_pending keeps the interval,
// slow_down adds 5 s for the rest of the flow (also across a network
// failure or a 503, after which polling goes on), and access_denied,
// expired_token and the code's expiry end the flow.
func TestDevicePollingVirtualTime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		script    []string
		expiresIn int
		wantGaps  []int // seconds from the start, then between polls
		wantErr   error
		wantEnd   int // seconds from the start when DeviceWait returned
	}{
		{
			name:     "slow_down for the rest of the flow",
			script:   []string{"pending", "slow_down", "pending", "pending", "ok"},
			wantGaps: []int{5, 5, 10, 10, 10}, wantEnd: 40,
		},
		{
			name:     "slow_down kept across failures",
			script:   []string{"pending", "slow_down", "neterr", "503", "pending", "slow_down", "ok"},
			wantGaps: []int{5, 5, 10, 10, 10, 10, 15}, wantEnd: 65,
		},
		{
			name:     "access_denied",
			script:   []string{"pending", "denied"},
			wantGaps: []int{5, 5}, wantErr: oidc.ErrDeviceDenied, wantEnd: 10,
		},
		{
			name:     "expired_token",
			script:   []string{"slow_down", "expired"},
			wantGaps: []int{5, 10}, wantErr: oidc.ErrDeviceExpired, wantEnd: 15,
		},
		{
			name:      "expires_in passes",
			script:    nil, // pending forever
			expiresIn: 12,
			wantGaps:  []int{5, 5}, wantErr: oidc.ErrDeviceExpired, wantEnd: 12,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if tc.expiresIn == 0 {
					tc.expiresIn = 600
				}
				f := &fakeOP{issuer: "https://id.example.com", key: fakeKey(), script: tc.script, expiresIn: tc.expiresIn}
				p, err := oidc.New(t.Context(), oidc.Config{
					Issuer: f.issuer, ClientID: "app",
					HTTP: &http.Client{Transport: f, Timeout: 30 * time.Second},
				})
				if err != nil {
					t.Fatal(err)
				}
				dc, err := p.DeviceStart(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				tok, err := p.DeviceWait(t.Context(), dc)
				end := int(time.Since(start) / time.Second)
				if tc.wantErr != nil {
					wantIs(t, err, tc.wantErr)
				} else if err != nil || tok.AccessToken != "at-1" || tok.Claims.Subject != "u1" {
					t.Fatalf("DeviceWait = %+v, %v", tok, err)
				}
				var gaps []int
				prev := start
				for _, at := range f.polls {
					gaps = append(gaps, int(at.Sub(prev)/time.Second))
					prev = at
				}
				if diff := cmp.Diff(tc.wantGaps, gaps); diff != "" {
					t.Errorf("poll intervals in seconds (-want +got):\n%s", diff)
				}
				if end != tc.wantEnd {
					t.Errorf("DeviceWait returned after %d s, want %d", end, tc.wantEnd)
				}
			})
		})
	}
}

// TestDeviceWaitCanceled: the caller's context ends the wait at once.
func TestDeviceWaitCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeOP{issuer: "https://id.example.com", key: fakeKey(), expiresIn: 600}
		p, err := oidc.New(t.Context(), oidc.Config{Issuer: f.issuer, ClientID: "app", HTTP: &http.Client{Transport: f, Timeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		dc, err := p.DeviceStart(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 12*time.Second)
		defer cancel()
		_, err = p.DeviceWait(ctx, dc)
		wantIs(t, err, context.DeadlineExceeded)
		if errors.Is(err, oidc.ErrDeviceExpired) {
			t.Errorf("the caller's deadline reported as the code's expiry: %v", err)
		}
		if n := len(f.polls); n != 2 {
			t.Errorf("%d polls in 12 s, want 2", n)
		}
	})
}
