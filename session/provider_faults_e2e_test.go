package session

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/store"
)

// outcome is how a flow ends under a fault.
type outcome string

const (
	// failsClean: a clear error; nothing reached the provider's logic or
	// nothing it did is lost (the retry after the fault works).
	failsClean outcome = "fails, nothing lost"
	// failsSpent: a clear error; the provider did the work (a code was
	// spent, a refresh token rotated) and its answer is lost.
	failsSpent outcome = "fails, the provider's work lost"
	// succeeds: the answer was usable after all.
	succeeds outcome = "succeeds"
	// succeedsRotationLost: a refresh that succeeds, but the provider's
	// rotated refresh token did not arrive (the old one is kept, as RFC
	// 6749 section 6 says when none comes), so the next refresh ends the
	// session.
	succeedsRotationLost outcome = "succeeds, the rotated refresh token lost"
)

// providerFault is one way the OpenID provider (or what stands in front
// of it) fails a request, with how each flow must end. A forwarded fault
// (truncated, malformed, content type, missing fields) lets the provider
// do the work first.
type providerFault struct {
	name  string
	fault oidctest.Fault
	// tokenField: for a missing-fields fault, the field of the token
	// endpoint's answer removed; on other endpoints the endpoint's own
	// key field is removed instead (see at).
	tokenField string
	// refresh, login (the code exchange), devicePoll (the token poll
	// after the user approved) and other (discovery, the keys, the device
	// authorization, the revoke: answers without tokens); keys, when
	// set, for the keys instead of other.
	refresh, login, devicePoll, other, keys outcome
}

// outcomeAt is how a flow meeting f on a path other than the token
// endpoint ends.
func (f providerFault) outcomeAt(path string) outcome {
	if path == oidctest.PathKeys && f.keys != "" {
		return f.keys
	}
	return f.other
}

// What the outcomes below rest on, measured against the example
// provider: a token poll it could not answer (slow, 5xx, reset, a body
// cut short) is polled again, and an approved device code is redeemed
// again (it is not spent by a lost answer), so the device login goes on;
// x/oauth2 reads a token answer sent as text/plain as a form (no
// access_token: a failure) and any other content type as JSON, while
// discovery, the keys and the device authorization are read as JSON
// whatever their content type; a refresh answer need not carry an ID
// token, a login's must; the example provider rotates refresh tokens and
// refuses the old one (invalid_grant).
var providerFaults = []providerFault{
	{name: "slower than the timeout", fault: oidctest.Fault{Kind: oidctest.FaultLatency, Latency: 2 * time.Second},
		refresh: failsClean, login: failsClean, devicePoll: succeeds, other: failsClean},
	{name: "503", fault: oidctest.Fault{Kind: oidctest.FaultStatus, Status: 503},
		refresh: failsClean, login: failsClean, devicePoll: succeeds, other: failsClean},
	{name: "connection reset", fault: oidctest.Fault{Kind: oidctest.FaultReset},
		refresh: failsClean, login: failsClean, devicePoll: succeeds, other: failsClean},
	{name: "HTML page with 200", fault: oidctest.Fault{Kind: oidctest.FaultHTML},
		refresh: failsClean, login: failsClean, devicePoll: failsClean, other: failsClean},
	{name: "HTML error page", fault: oidctest.Fault{Kind: oidctest.FaultHTML, Status: 500},
		refresh: failsClean, login: failsClean, devicePoll: succeeds, other: failsClean},
	{name: "redirect 302", fault: oidctest.Fault{Kind: oidctest.FaultRedirect, Status: 302},
		refresh: failsClean, login: failsClean, devicePoll: failsClean, other: failsClean},
	{name: "redirect 307", fault: oidctest.Fault{Kind: oidctest.FaultRedirect, Status: 307},
		refresh: failsClean, login: failsClean, devicePoll: failsClean, other: failsClean},
	{name: "truncated", fault: oidctest.Fault{Kind: oidctest.FaultTruncate},
		refresh: failsSpent, login: failsSpent, devicePoll: succeeds, other: failsClean},
	{name: "malformed JSON", fault: oidctest.Fault{Kind: oidctest.FaultMalformed},
		refresh: failsSpent, login: failsSpent, devicePoll: failsSpent, other: failsClean},
	{name: "JSON as text/plain", fault: oidctest.Fault{Kind: oidctest.FaultContentType, ContentType: "text/plain; charset=utf-8"},
		refresh: failsSpent, login: failsSpent, devicePoll: failsSpent, other: succeeds},
	{name: "JSON as text/html", fault: oidctest.Fault{Kind: oidctest.FaultContentType, ContentType: "text/html; charset=utf-8"},
		refresh: succeeds, login: succeeds, devicePoll: succeeds, other: succeeds},
	// On other endpoints than the token endpoint, this row removes their
	// key field (keyField). A key set without keys names no key of the ID
	// token's: the keys are fetched again, once, and the login goes on.
	{name: "no access_token", fault: oidctest.Fault{Kind: oidctest.FaultMissingFields}, tokenField: "access_token",
		refresh: failsSpent, login: failsSpent, devicePoll: failsSpent, other: failsClean, keys: succeeds},
	{name: "no id_token", fault: oidctest.Fault{Kind: oidctest.FaultMissingFields}, tokenField: "id_token",
		refresh: succeeds, login: failsSpent, devicePoll: failsSpent},
	{name: "no refresh_token", fault: oidctest.Fault{Kind: oidctest.FaultMissingFields}, tokenField: "refresh_token",
		refresh: succeedsRotationLost, login: succeeds, devicePoll: succeeds},
}

// forwarded: the fault lets the provider do the work and spoils its
// answer.
func (f providerFault) forwarded() bool {
	switch f.fault.Kind {
	case oidctest.FaultTruncate, oidctest.FaultMalformed, oidctest.FaultContentType, oidctest.FaultMissingFields:
		return true
	}
	return false
}

// reached: the request under the fault reached the provider (n
// requests did) exactly when the fault forwards it.
func (f providerFault) reached(t *testing.T, n int) {
	t.Helper()
	if (n > 0) != f.forwarded() {
		t.Errorf("%d requests reached the provider; want them to exactly when the fault forwards (%v)", n, f.forwarded())
	}
}

// saysRedirect: a redirect's error says it was not followed (as Codex's
// issuer's does), with ErrIssuerRedirect when err is given.
func (f providerFault) saysRedirect(t *testing.T, what, msg string, err error) {
	t.Helper()
	if f.fault.Kind != oidctest.FaultRedirect {
		return
	}
	if !strings.Contains(msg, "redirect") || (err != nil && !errors.Is(err, ErrIssuerRedirect)) {
		t.Errorf("%s: %q, want it to say the redirect was not followed", what, msg)
	}
}

// keyField is what a missing-fields fault removes from an endpoint's
// answer other than the token endpoint's.
var keyField = map[string]string{
	oidctest.PathDiscovery:           "issuer",
	oidctest.PathKeys:                "keys",
	oidctest.PathDeviceAuthorization: "device_code",
}

// at is f armed once on path; ok is false when it has nothing to do
// there (a token field missing from an answer without tokens, or a
// second missing-fields row for the same endpoint).
func (f providerFault) at(path string) (oidctest.Fault, bool) {
	fl := f.fault
	fl.Path, fl.Count = path, 1
	if fl.Kind == oidctest.FaultMissingFields {
		if path == oidctest.PathToken {
			fl.Fields = []string{f.tokenField}
		} else if k := keyField[path]; k != "" && f.tokenField == "access_token" {
			fl.Fields = []string{k}
		} else {
			return fl, false
		}
	}
	return fl, true
}

// providerEnv is a Manager signed in (or signing in) to the real
// provider through a fault proxy, on a file store, with short request
// timeouts and a clock that later moves ahead.
type providerEnv struct {
	op    *oidctest.Server
	px    *oidctest.FaultProxy
	m     *Manager
	rec   *recorder
	path  string // the provider's auth.json
	logs  *logBuffer
	ahead atomic.Int64
}

func newProviderEnv(t *testing.T) *providerEnv {
	t.Helper()
	op, px := oidctest.StartWithFaults(t)
	e := &providerEnv{op: op, px: px, rec: newRecorder(), logs: &logBuffer{}}
	prov, err := NewOIDCProvider("corp", oidc.Config{Issuer: px.URL, ClientID: oidctest.PublicClient, HTTP: &http.Client{Timeout: faultClientTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	home := store.Home{Dir: t.TempDir()}
	st, err := store.OpenProvider(home, "corp", store.Options{Mode: store.ModeFile})
	if err != nil {
		t.Fatal(err)
	}
	e.path = st.Location().Where
	m, err := New(Options{
		Store: st, Provider: prov, Editor: e.rec, DisableWatch: true,
		Headless: func() bool { return true }, CallbackPort: AnyCallbackPort,
		Now:            func() time.Time { return time.Now().Add(time.Duration(e.ahead.Load())) },
		RefreshTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.devicePoll = time.Millisecond // oidc rounds it up to 1 s (the provider asks 5 s; it does not enforce it)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	e.m = m
	return e
}

// later moves the Manager's clock ahead (a forced refresh right after a
// store is satisfied by what was stored; a failed one backs off).
func (e *providerEnv) later(d time.Duration) { e.ahead.Add(int64(d)) }

// stored is the provider's auth.json as it is on disk (nil: none).
func (e *providerEnv) stored(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(e.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// record is the stored record, parsed.
func (e *providerEnv) record(t *testing.T) *store.Record {
	t.Helper()
	b := e.stored(t)
	if b == nil {
		return nil
	}
	r, err := store.ParseRecord(b)
	if err != nil {
		t.Fatalf("the stored record does not parse: %v", err)
	}
	return r
}

// browserLogin runs a browser login through the provider's pages to its
// end.
func (e *providerEnv) browserLogin(t *testing.T) LoginCompleted {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	bl, err := e.m.StartBrowserLogin(ctx)
	if err != nil {
		t.Fatalf("StartBrowserLogin: %v", err)
	}
	if _, err := oidctest.NewBrowser().Login(ctx, bl.AuthURL, oidctest.Username, oidctest.Password); err != nil {
		t.Logf("the browser: %v", err) // the loopback page may fail with the login; LoginCompleted says how
	}
	return e.completion(t, bl.LoginID)
}

func (e *providerEnv) completion(t *testing.T, id string) LoginCompleted {
	t.Helper()
	evs := e.rec.waitFor(t, "login completed", func(evs []any) bool {
		for _, c := range completed(evs) {
			if c.LoginID == id {
				return true
			}
		}
		return false
	})
	for _, c := range completed(evs) {
		if c.LoginID == id {
			return c
		}
	}
	panic("unreachable")
}

// signIn is a browser login that must succeed.
func (e *providerEnv) signIn(t *testing.T) *store.Record {
	t.Helper()
	if c := e.browserLogin(t); !c.Success {
		t.Fatalf("login failed: %s", c.Error)
	}
	return e.record(t)
}

// serving: the Manager still answers, no redirect was followed, and the
// fault armed was used (else the case proved nothing).
func (e *providerEnv) serving(t *testing.T) {
	t.Helper()
	if _, err := e.m.Status(t.Context(), false); err != nil {
		t.Fatalf("Status after the fault: %v", err)
	}
	if n := e.px.RedirectsFollowed(); n != 0 {
		t.Fatalf("a redirect was followed %d times", n)
	}
	if n := e.px.Armed(); n != 0 {
		t.Fatalf("%d faults were never used: the case tested nothing", n)
	}
}

// clear: msg is a failure the editor can show (clearError), holding no
// token the provider ever gave; the log holds none either.
func (e *providerEnv) clear(t *testing.T, what, msg string, rec *store.Record) {
	t.Helper()
	clearError(t, what, msg, rec)
	e.noSecrets(t, what, msg)
}

func (e *providerEnv) noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range e.px.Secrets() {
		if strings.Contains(text, s) {
			t.Fatalf("%s carries a token of the provider's", what)
		}
	}
}

// done checks the log at the end of a case.
func (e *providerEnv) done(t *testing.T) {
	t.Helper()
	e.noSecrets(t, "the log", e.logs.String())
}

// TestProviderFaultsDuringRefresh: whatever the refresh's answer is, the
// editor gets a clear error or a token, the sidecar keeps serving, and
// the stored record changes only with tokens the provider really gave. A
// fault in front of the provider loses nothing: the next refresh works.
// When the provider rotated the refresh token and the answer was lost,
// the old token is refused (the example provider deletes it on rotation:
// invalid_grant), so the next refresh ends in exactly one "sign in
// again" (refreshFailed), with no retry loop.
func TestProviderFaultsDuringRefresh(t *testing.T) {
	for _, f := range providerFaults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			e := newProviderEnv(t)
			defer e.done(t)
			before := e.signIn(t)
			beforeRaw := e.stored(t)
			e.later(10 * time.Second)
			fl, _ := f.at(oidctest.PathToken)
			e.px.Arm(fl)
			hits := e.op.Hits(oidctest.PathToken)
			tok, err := e.m.Token(t.Context(), true)
			e.serving(t)
			f.reached(t, e.op.Hits(oidctest.PathToken)-hits)
			after := e.record(t)
			if after == nil || after.Tokens == nil {
				t.Fatalf("the record is gone after the refresh")
			}
			switch f.refresh {
			case failsClean, failsSpent:
				if err == nil {
					t.Fatalf("the refresh succeeded (new token %t); want it to fail", tok.AccessToken != before.Tokens.AccessToken)
				}
				if !errors.Is(err, ErrIssuerUnavailable) && !errors.Is(err, ErrInvalidResponse) && !errors.As(err, new(*IssuerError)) {
					t.Errorf("refresh error %v, want issuer unavailable, an invalid answer or an issuer error", err)
				}
				e.clear(t, "refresh", err.Error(), before)
				f.saysRedirect(t, "refresh", err.Error(), err)
				if !bytes.Equal(e.stored(t), beforeRaw) {
					t.Errorf("the stored record changed on a refresh that failed")
				}
			case succeeds, succeedsRotationLost:
				if err != nil {
					t.Fatalf("refresh: %v; want the usable answer taken", err)
				}
				if tok.AccessToken == before.Tokens.AccessToken || after.Tokens.AccessToken != tok.AccessToken {
					t.Errorf("the refresh did not store the new access token")
				}
				if rotated := after.Tokens.RefreshToken != before.Tokens.RefreshToken; rotated != (f.refresh == succeeds) {
					t.Errorf("refresh token rotated in the record: %v, want %v", rotated, f.refresh == succeeds)
				}
			}

			// Then, the fault gone.
			e.later(10 * time.Second)
			hits = e.op.Hits(oidctest.PathToken)
			tok2, err := e.m.Token(t.Context(), true)
			switch f.refresh {
			case failsClean, succeeds:
				if err != nil || tok2.AccessToken == tok.AccessToken || tok2.AccessToken == before.Tokens.AccessToken {
					t.Errorf("the refresh after the fault: %v; want a new token (nothing was lost)", err)
				}
				return
			}
			var ee *ExpiredError
			if !errors.As(err, &ee) {
				t.Fatalf("the refresh after the rotated token was lost: %v; want sign in again", err)
			}
			e.clear(t, "refresh", err.Error(), before)
			for range 3 {
				e.later(10 * time.Second)
				if _, err := e.m.Token(t.Context(), true); !errors.As(err, &ee) {
					t.Errorf("a later refresh: %v; want sign in again", err)
				}
			}
			if n := e.op.Hits(oidctest.PathToken) - hits; n != 1 {
				t.Errorf("%d refreshes reached the provider after the session ended, want 1 (no retry loop)", n)
			}
			inv := ofType[Invalidation](e.rec.all())
			if len(inv) != 1 || inv[0].Reason != ReasonRefreshFailed {
				t.Errorf("invalidations = %+v, want one refreshFailed", inv)
			} else {
				e.clear(t, "the invalidation", inv[0].Message, before)
			}
			if r := e.record(t); r == nil || r.Tokens == nil {
				t.Errorf("the record is gone after the session ended (only a logout or a login deletes it)")
			}
		})
	}
}

// TestProviderFaultsDuringLogin: a fault on the browser login's code
// exchange fails the login with a clear LoginCompleted and stores
// nothing, unless the answer was usable after all; a fault on the keys
// (fetched to check the ID token) does the same; one on userinfo (asked
// for the name and email, best effort) does not stop the login. Either
// way the next login works.
func TestProviderFaultsDuringLogin(t *testing.T) {
	for _, path := range []string{oidctest.PathToken, oidctest.PathKeys, oidctest.PathUserinfo} {
		for _, f := range providerFaults {
			fl, ok := f.at(path)
			if !ok {
				continue
			}
			want := f.login
			switch path {
			case oidctest.PathKeys:
				want = f.outcomeAt(path)
			case oidctest.PathUserinfo:
				want = succeeds // asked for a name or email the ID token left out, best effort
			}
			t.Run(strings.Trim(path, "/")+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				e := newProviderEnv(t)
				defer e.done(t)
				var before *store.Record
				if path == oidctest.PathKeys {
					// Discovery only, so the fault meets the keys' first fetch.
					if err := e.m.opts.Provider.Ready(t.Context()); err != nil {
						t.Fatal(err)
					}
				} else {
					before = e.signIn(t) // a failed login must not lose it
				}
				beforeRaw := e.stored(t)
				e.px.Arm(fl)
				hits := e.op.Hits(path)
				c := e.browserLogin(t)
				e.serving(t)
				f.reached(t, e.op.Hits(path)-hits)
				if want == succeeds {
					if r := e.record(t); !c.Success || r == nil || (before != nil && r.Tokens.RefreshToken == before.Tokens.RefreshToken) {
						t.Fatalf("login = %+v; want the usable answer taken and stored", c)
					}
				} else {
					if c.Success {
						t.Fatalf("the login succeeded through the fault")
					}
					e.clear(t, "login", c.Error, before)
					f.saysRedirect(t, "login", c.Error, nil)
					if !bytes.Equal(e.stored(t), beforeRaw) {
						t.Fatalf("a failed login changed what was stored")
					}
				}
				if c := e.browserLogin(t); !c.Success {
					t.Errorf("the login after the fault: %s", c.Error)
				}
			})
		}
	}
}

// TestProviderFaultsDuringDiscovery: a provider whose discovery fails
// when a login starts gives the editor a clear error at once (the
// sidecar keeps serving), and is discovered on the next try.
func TestProviderFaultsDuringDiscovery(t *testing.T) {
	for _, f := range providerFaults {
		fl, ok := f.at(oidctest.PathDiscovery)
		if !ok {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			e := newProviderEnv(t)
			defer e.done(t)
			e.px.Arm(fl)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			bl, err := e.m.StartBrowserLogin(ctx)
			e.serving(t)
			if f.outcomeAt(oidctest.PathDiscovery) == succeeds {
				if err != nil {
					t.Fatalf("StartBrowserLogin: %v; want the usable answer taken", err)
				}
				e.m.CancelLogin(ctx, bl.LoginID)
			} else {
				if err == nil {
					t.Fatalf("a login started through a failed discovery")
				}
				e.clear(t, "login start", err.Error(), nil)
				f.saysRedirect(t, "login start", err.Error(), err)
			}
			if c := e.browserLogin(t); !c.Success {
				t.Errorf("the login after the fault: %s", c.Error)
			}
		})
	}
}

// TestProviderFaultsDuringDevice: a fault on the device authorization
// gives the editor a clear error at once; a fault on the token poll
// after the user approved either lets polling go on to the tokens (a
// poll the provider could not answer) or ends the login with one clear
// LoginCompleted. The next device login works.
func TestProviderFaultsDuringDevice(t *testing.T) {
	for _, f := range providerFaults {
		if fl, ok := f.at(oidctest.PathDeviceAuthorization); ok {
			t.Run("start/"+f.name, func(t *testing.T) {
				t.Parallel()
				e := newProviderEnv(t)
				defer e.done(t)
				e.px.Arm(fl)
				dl, err := e.m.StartDeviceLogin(t.Context())
				e.serving(t)
				if f.outcomeAt(oidctest.PathDeviceAuthorization) == succeeds {
					if err != nil {
						t.Fatalf("StartDeviceLogin: %v; want the usable answer taken", err)
					}
					e.m.CancelLogin(t.Context(), dl.LoginID)
				} else {
					if err == nil {
						t.Fatalf("a device login started through a failing start")
					}
					e.clear(t, "device start", err.Error(), nil)
					f.saysRedirect(t, "device start", err.Error(), err)
				}
				dl, err = e.m.StartDeviceLogin(t.Context())
				if err != nil || dl.UserCode == "" {
					t.Fatalf("the device start after the fault: %+v, %v", dl, err)
				}
				e.m.CancelLogin(t.Context(), dl.LoginID)
			})
		}
		fl, _ := f.at(oidctest.PathToken)
		t.Run("poll/"+f.name, func(t *testing.T) {
			t.Parallel()
			e := newProviderEnv(t)
			defer e.done(t)
			e.deviceLogin(t, &fl, f.devicePoll)
			if f.devicePoll != succeeds {
				e.deviceLogin(t, nil, succeeds)
			}
		})
	}
}

// deviceLogin runs a device login the user approves; fault, when set, is
// armed once they have, so that it meets a poll that would bring the
// tokens.
func (e *providerEnv) deviceLogin(t *testing.T, fault *oidctest.Fault, want outcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dl, err := e.m.StartDeviceLogin(ctx)
	if err != nil {
		t.Fatalf("StartDeviceLogin: %v", err)
	}
	if err := oidctest.NewBrowser().ApproveDevice(ctx, dl.VerificationURL, dl.UserCode, oidctest.Username, oidctest.Password); err != nil {
		t.Fatalf("approving the code: %v", err)
	}
	if fault != nil {
		e.px.Arm(*fault)
	}
	c := e.completion(t, dl.LoginID)
	e.serving(t)
	if want == succeeds {
		if !c.Success || e.record(t) == nil {
			t.Fatalf("device login = %+v; want it signed in", c)
		}
		return
	}
	if c.Success {
		t.Fatalf("the device login succeeded through the fault")
	}
	e.clear(t, "device login", c.Error, nil)
	providerFault{fault: *fault}.saysRedirect(t, "device login", c.Error, nil)
	if e.stored(t) != nil {
		t.Fatalf("a failed device login stored a record")
	}
	if n := len(completed(e.rec.all())); n != 1 {
		t.Errorf("%d LoginCompleted, want 1", n)
	}
}

// TestProviderFaultsDuringRevoke: a logout whose revoke fails still
// removes the credentials at once and reports the revoke as not done
// (Revoked false, a log line: best effort, as for Codex's issuer);
// after the fault, a new sign-in's logout revokes.
func TestProviderFaultsDuringRevoke(t *testing.T) {
	for _, f := range providerFaults {
		fl, ok := f.at(oidctest.PathRevoke)
		if !ok {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			e := newProviderEnv(t)
			defer e.done(t)
			before := e.signIn(t)
			e.px.Arm(fl)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			res, err := e.m.LogoutAndRevoke(ctx)
			if err != nil || !res.Existed {
				t.Fatalf("logout with a failing revoke: %+v, %v; want the credentials removed", res, err)
			}
			e.serving(t)
			if e.stored(t) != nil {
				t.Fatalf("the credentials are still stored after the logout")
			}
			if _, err := e.m.Token(ctx, false); !errors.Is(err, ErrNotLoggedIn) {
				t.Errorf("Token after the logout: %v", err)
			}
			// A 200 is a revoke done, whatever its body (RFC 7009 section
			// 2.2: the client ignores it): a forwarded fault's (the provider
			// did revoke), and an HTML page's with 200, which the client
			// cannot tell from one.
			wantRevoked := f.forwarded() || (f.fault.Kind == oidctest.FaultHTML && f.fault.Status == 0)
			if res.Revoked != wantRevoked {
				t.Errorf("Revoked = %v, want %v", res.Revoked, wantRevoked)
			}
			if !res.Revoked && !strings.Contains(e.logs.String(), "revoking at the sign-in server failed") {
				t.Errorf("the failed revoke left no word in the log")
			}
			for _, s := range []string{before.Tokens.RefreshToken, before.Tokens.AccessToken} {
				if strings.Contains(e.logs.String(), s) {
					t.Errorf("the log carries a token of the record")
				}
			}
			e.signIn(t)
			if res, err := e.m.LogoutAndRevoke(ctx); err != nil || !res.Existed || !res.Revoked {
				t.Errorf("the logout after the fault: %+v, %v", res, err)
			}
		})
	}
}

// logBuffer is a log sink safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
