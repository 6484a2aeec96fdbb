package session

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/store"
)

var memOPKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

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
				op := oidctest.NewMemoryOP("https://id.example.com", key, 600, tc.script...)
				prov, err := NewOIDCProvider("corp", oidc.Config{Issuer: op.Issuer(), ClientID: "app", HTTP: &http.Client{Transport: op, Timeout: 30 * time.Second}})
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
				if dl.UserCode != "WDJB-MJHT" || dl.VerificationURL != op.Issuer()+"/activate" || !dl.ExpiresAt.Equal(wantExp) {
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
				for _, at := range op.Polls() {
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
		op := oidctest.NewMemoryOP("https://id.example.com", memOPKey(), 600)
		prov, err := NewOIDCProvider("corp", oidc.Config{Issuer: op.Issuer(), ClientID: "app", HTTP: &http.Client{Transport: op, Timeout: 30 * time.Second}})
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
		if n := len(op.Polls()); n != 1 {
			t.Errorf("%d polls, want 1 (before the cancel at 7 s)", n)
		}
	})
}
