package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

// issuerFault is one way the issuer (or what stands in front of it) can
// fail a request.
type issuerFault struct {
	name  string
	fault localissuer.Fault
	// processed: the issuer did the work (a refresh token rotated) but
	// the answer did not arrive whole.
	processed bool
}

// faultClientTimeout bounds each request in these tests, so that an
// answer slower than it is a timeout.
const faultClientTimeout = 300 * time.Millisecond

var issuerFaults = []issuerFault{
	{name: "slower than the timeout", fault: localissuer.Fault{Kind: localissuer.FaultLatency, Latency: localissuer.Duration(2 * time.Second)}},
	{name: "503", fault: localissuer.Fault{Kind: localissuer.FaultStatus, Status: 503}},
	{name: "connection reset", fault: localissuer.Fault{Kind: localissuer.FaultDrop}},
	{name: "HTML page with 200", fault: localissuer.Fault{Kind: localissuer.FaultHTML}},
	{name: "HTML error page", fault: localissuer.Fault{Kind: localissuer.FaultHTML, Status: 500}},
	{name: "redirect", fault: localissuer.Fault{Kind: localissuer.FaultRedirect}},
	{name: "truncated", fault: localissuer.Fault{Kind: localissuer.FaultTruncate}, processed: true},
	{name: "malformed JSON", fault: localissuer.Fault{Kind: localissuer.FaultMalformed}, processed: true},
	{name: "missing fields", fault: localissuer.Fault{Kind: localissuer.FaultMissingFields, Fields: []string{"refresh_token", "access_token"}}, processed: true},
}

// newFaultE2E is a Manager on a file store against the local issuer, with
// short request timeouts and whoami, signed in by a browser login. Its
// clock runs ahead by what later adds (a forced refresh right after a
// store is satisfied by what was stored: see satisfied).
func newFaultE2E(t *testing.T, signIn bool) (e *e2eEnv, later func(time.Duration)) {
	t.Helper()
	var ahead atomic.Int64
	e = newE2E(t, e2eOptions{timeout: faultClientTimeout, mutate: func(o *Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		api, err := openai.NewAuthAPI(o.Issuer.Base()+openai.AuthAPIPath, &http.Client{Timeout: faultClientTimeout})
		if err != nil {
			t.Fatal(err)
		}
		o.Whoami = api
		o.RefreshTimeout = 2 * time.Second
	}})
	if signIn {
		e.browserLogin(t, true)
	}
	return e, func(d time.Duration) { ahead.Add(int64(d)) }
}

// browserLogin runs one browser login to its end and returns how it ended.
func (e *e2eEnv) browserLogin(t *testing.T, mustSucceed bool) LoginCompleted {
	t.Helper()
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := browser(t, bl.AuthURL)
	_ = resp
	evs := e.rec.waitFor(t, "login completed", func(evs []any) bool {
		for _, c := range completed(evs) {
			if c.LoginID == bl.LoginID {
				return true
			}
		}
		return false
	})
	for _, c := range completed(evs) {
		if c.LoginID == bl.LoginID {
			if mustSucceed && !c.Success {
				t.Fatalf("login failed: %s", c.Error)
			}
			return c
		}
	}
	panic("unreachable")
}

// checkServing: the Manager still answers, and what is stored parses.
func checkServing(t *testing.T, e *e2eEnv) *store.Record {
	t.Helper()
	if _, err := e.m.Status(t.Context(), false); err != nil {
		t.Fatalf("Status after the fault: %v", err)
	}
	rec, err := e.other.Load(t.Context())
	if err != nil {
		t.Fatalf("the stored record after the fault: %v", err)
	}
	if st := e.srv.Stats(); st.RedirectsFollowed != 0 {
		t.Fatalf("a redirect was followed %d times", st.RedirectsFollowed)
	}
	return rec
}

// clearError: a failure the editor can show: not empty, bounded, and
// without a secret of rec.
func clearError(t *testing.T, what, msg string, rec *store.Record) {
	t.Helper()
	if msg == "" || len(msg) > 300 {
		t.Fatalf("%s: error %q, want a short message", what, msg)
	}
	if rec != nil && rec.Tokens != nil {
		for _, s := range []string{rec.Tokens.RefreshToken, rec.Tokens.AccessToken, rec.Tokens.IDToken} {
			if s != "" && strings.Contains(msg, s) {
				t.Fatalf("%s: the error carries a token", what)
			}
		}
	}
}

// TestIssuerFaultsDuringRefresh: whatever the refresh's answer is, the
// editor gets a clear error or the still-valid token, the sidecar keeps
// serving and the stored record stays whole. A fault before the issuer
// did anything loses nothing: the next refresh works. A fault after the
// issuer rotated the token loses it by nature: the next refresh ends in
// one clear "sign in again", with no retry loop.
func TestIssuerFaultsDuringRefresh(t *testing.T) {
	for _, f := range issuerFaults {
		t.Run(f.name, func(t *testing.T) {
			e, later := newFaultE2E(t, true)
			before := checkServing(t, e)
			if _, err := e.m.Token(t.Context(), false); err != nil { // the editor holds it
				t.Fatal(err)
			}
			later(10 * time.Second)
			refreshes := e.srv.Stats().Refreshes
			fault := f.fault
			fault.Path, fault.Grant, fault.Count = "/oauth/token", "refresh_token", 1
			if err := e.srv.SetFaults(localissuer.Faults{fault}); err != nil {
				t.Fatal(err)
			}
			tok, err := e.m.Token(t.Context(), true)
			if got := e.srv.Stats().Refreshes - refreshes; got != 1 && !(got == 0 && !f.processed) {
				t.Fatalf("%d refreshes reached the issuer's logic, want 1 (or 0: the fault stood in front)", got)
			}
			switch {
			case err == nil && tok.AccessToken != before.Tokens.AccessToken && !f.processed:
				t.Fatalf("a new token from a refresh that failed")
			case err != nil:
				if !errors.Is(err, ErrIssuerUnavailable) && !errors.Is(err, ErrInvalidResponse) {
					t.Errorf("refresh error %v, want issuer unavailable or an invalid answer", err)
				}
				clearError(t, "refresh", err.Error(), before)
			}
			after := checkServing(t, e)
			if after == nil || after.Tokens == nil {
				t.Fatalf("the record is gone after a failed refresh")
			}
			if !f.processed {
				if after.Tokens.RefreshToken != before.Tokens.RefreshToken {
					t.Errorf("the stored refresh token changed on a refresh that failed")
				}
				later(10 * time.Second)
				tok2, err := e.m.Token(t.Context(), true)
				if err != nil || tok2.AccessToken == before.Tokens.AccessToken {
					t.Errorf("the refresh after the fault: %v (new token %v); want it to work (nothing was lost)", err, err == nil && tok2.AccessToken != before.Tokens.AccessToken)
				}
				return
			}
			later(10 * time.Second)
			refreshes = e.srv.Stats().Refreshes
			_, err = e.m.Token(t.Context(), true)
			var ee *ExpiredError
			if err != nil && !errors.As(err, &ee) {
				t.Errorf("the refresh after the rotated answer was lost: %v; want sign in again", err)
			}
			if err == nil {
				t.Errorf("the refresh after the rotated answer was lost succeeded; want sign in again")
			} else {
				clearError(t, "refresh", err.Error(), before)
				for range 3 {
					later(10 * time.Second)
					_, _ = e.m.Token(t.Context(), true)
				}
				if got := e.srv.Stats().Refreshes - refreshes; got > 1 {
					t.Errorf("%d refreshes after the session ended, want at most 1 (no retry loop)", got)
				}
			}
			if _, err := e.other.Load(t.Context()); err != nil {
				t.Errorf("the record after the session ended: %v", err)
			}
		})
	}
}

// TestIssuerFaultsDuringLogin: a fault on the code exchange fails the
// browser login with a clear message and stores nothing; a fault on the
// API-key exchange (best effort, as Codex) still signs in, without a key.
func TestIssuerFaultsDuringLogin(t *testing.T) {
	for _, f := range issuerFaults {
		t.Run("code exchange/"+f.name, func(t *testing.T) {
			e, _ := newFaultE2E(t, false)
			fault := f.fault
			fault.Path, fault.Grant = "/oauth/token", "authorization_code"
			if err := e.srv.SetFaults(localissuer.Faults{fault}); err != nil {
				t.Fatal(err)
			}
			c := e.browserLogin(t, false)
			if c.Success {
				t.Fatalf("the login succeeded through a failing code exchange")
			}
			clearError(t, "login", c.Error, nil)
			if rec := checkServing(t, e); rec != nil {
				t.Errorf("a failed login stored a record")
			}
		})
		t.Run("API key exchange/"+f.name, func(t *testing.T) {
			e, _ := newFaultE2E(t, false)
			fault := f.fault
			fault.Path, fault.Grant = "/oauth/token", "urn:ietf:params:oauth:grant-type:token-exchange"
			if err := e.srv.SetFaults(localissuer.Faults{fault}); err != nil {
				t.Fatal(err)
			}
			e.browserLogin(t, true)
			rec := checkServing(t, e)
			if rec == nil || rec.Tokens == nil || rec.Tokens.RefreshToken == "" {
				t.Fatalf("signed in, but the stored record has no tokens")
			}
			if rec.APIKey != nil && f.fault.Kind != localissuer.FaultMissingFields && f.fault.Kind != localissuer.FaultLatency {
				t.Errorf("an API key was stored from a failed exchange")
			}
		})
	}
}

// TestIssuerFaultsDuringRevokeAndWhoami: a logout whose revoke fails
// still removes the credentials, promptly; a device start and a whoami
// that fail give a clear error and keep the sidecar serving.
func TestIssuerFaultsDuringRevokeAndWhoami(t *testing.T) {
	for _, f := range issuerFaults {
		if f.processed && f.fault.Kind == localissuer.FaultMissingFields {
			continue // revoke, device start and whoami answers have no tokens to miss
		}
		t.Run("revoke/"+f.name, func(t *testing.T) {
			e, _ := newFaultE2E(t, true)
			fault := f.fault
			fault.Path = "/oauth/revoke"
			if err := e.srv.SetFaults(localissuer.Faults{fault}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			res, err := e.m.LogoutAndRevoke(ctx)
			if err != nil || !res.Existed {
				t.Fatalf("logout with a failing revoke: %+v, %v; want the credentials removed", res, err)
			}
			if rec := checkServing(t, e); rec != nil {
				t.Errorf("the credentials are still stored after the logout")
			}
		})
		t.Run("device start/"+f.name, func(t *testing.T) {
			e, _ := newFaultE2E(t, false)
			fault := f.fault
			fault.Path = e2eUserCodePath
			if err := e.srv.SetFaults(localissuer.Faults{fault}); err != nil {
				t.Fatal(err)
			}
			_, err := e.m.StartDeviceLogin(t.Context())
			if err == nil {
				t.Fatalf("a device login started through a failing start")
			}
			clearError(t, "device start", err.Error(), nil)
			checkServing(t, e)
		})
		t.Run("whoami/"+f.name, func(t *testing.T) {
			e, _ := newFaultE2E(t, false)
			fault := f.fault
			fault.Path = localissuer.PathWhoami
			if err := e.srv.SetFaults(localissuer.Faults{fault}); err != nil {
				t.Fatal(err)
			}
			const token = "at-faultinjected0123456789"
			err := e.m.LoginAccessToken(t.Context(), token)
			if err == nil {
				t.Fatalf("an access token was saved though whoami failed")
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("the error carries the token")
			}
			clearError(t, "whoami", err.Error(), nil)
			if rec := checkServing(t, e); rec != nil {
				t.Errorf("an access token was stored though whoami failed")
			}
		})
	}
}
