package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/codex-auth/codex-auth/internal/httpclient"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

// e2eUser is who the local issuer signs in.
var e2eUser = localissuer.User{Email: "ada@example.com", PlanType: "pro", WorkspaceID: "ws-ada"}

// e2eEnv is a Manager on a real file store, talking to a local issuer.
type e2eEnv struct {
	srv   *localissuer.Server
	m     *Manager
	rec   *recorder
	other *store.Store // a second process on the same home

	// gate holds device polls back while the test decides a code
	// (between): the local issuer's approval is not atomic with respect to
	// a concurrent poll.
	gate sync.RWMutex

	mu      sync.Mutex
	arrived map[string]int
	signals map[string]chan struct{} // path -> closed when wantN arrived
	wantN   map[string]int
}

// e2eOptions tune newE2E.
type e2eOptions struct {
	issuer  localissuer.Config
	timeout time.Duration // the HTTP client's; default 5s
	mutate  func(*Options)
	// http, when set, is the client (codex-auth's own, with its user
	// agent) instead of a plain one.
	http *httpclient.Client
}

func newE2E(t *testing.T, o e2eOptions) *e2eEnv {
	t.Helper()
	if len(o.issuer.Users) == 0 {
		o.issuer.Users = []localissuer.User{e2eUser}
	}
	o.issuer.AllowedRedirectPorts = []int{0}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	srv, err := localissuer.New(o.issuer)
	if err != nil {
		t.Fatal(err)
	}
	e := &e2eEnv{srv: srv, rec: newRecorder(), arrived: map[string]int{}, signals: map[string]chan struct{}{}, wantN: map[string]int{}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.arrived[r.URL.Path]++
		if ch := e.signals[r.URL.Path]; ch != nil && e.arrived[r.URL.Path] == e.wantN[r.URL.Path] {
			close(ch)
		}
		e.mu.Unlock()
		if r.URL.Path == e2ePollPath {
			e.gate.RLock()
			defer e.gate.RUnlock()
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { srv.Close() }) // first: ends hung requests
	hc := &http.Client{Timeout: o.timeout}
	if o.http != nil {
		hc = o.http.HTTP()
	}
	iss, err := openai.New(openai.Config{Issuer: hs.URL, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e.other = fileStore(t, dir)
	opts := Options{
		Store:        fileStore(t, dir),
		Issuer:       iss,
		Editor:       e.rec,
		Headless:     func() bool { return true },
		CallbackPort: AnyCallbackPort,
	}
	if o.http != nil {
		opts.SetUserAgent = o.http.SetUserAgent
	}
	if o.mutate != nil {
		o.mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m.devicePoll = 5 * time.Millisecond // the waits themselves are tested in virtual time (device_test.go)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	e.m = m
	return e
}

// arrival returns a channel closed when the n-th request for path has
// arrived at the issuer (before it is answered). Call it before the
// requests are made.
func (e *e2eEnv) arrival(path string, n int) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan struct{})
	e.signals[path], e.wantN[path] = ch, n+e.arrived[path]
	return ch
}

// between runs decide while no device poll is being answered.
func (e *e2eEnv) between(decide func() error) error {
	e.gate.Lock()
	defer e.gate.Unlock()
	return decide()
}

const (
	e2ePollPath     = "/api/accounts/deviceauth/token"
	e2eUserCodePath = "/api/accounts/deviceauth/usercode"
)

// e2eWantUpdated is account/updated after signing in as e2eUser.
var e2eWantUpdated = AccountUpdated{AuthMode: "chatgpt", PlanType: "pro", Email: "ada@example.com", WorkspaceID: "ws-ada"}

func TestE2EBrowserLogin(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	bl, err := e.m.StartBrowserLogin(ctx)
	cancel() // the request is over; the flow goes on
	if err != nil {
		t.Fatal(err)
	}
	if !bl.Headless || bl.Message != HeadlessMessage {
		t.Errorf("headless login: got headless %v, message %q", bl.Headless, bl.Message)
	}
	resp, _ := browser(t, bl.AuthURL)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/success" {
		t.Errorf("browser ended at %s with %d, want /success 200", resp.Request.URL.Path, resp.StatusCode)
	}
	evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
	// The Manager's own write is not reported again by its watcher: the
	// logout below would otherwise come after a stray Updated.
	if diff := cmp.Diff([]any{LoginCompleted{LoginID: bl.LoginID, Success: true}, e2eWantUpdated}, evs); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}

	saved, err := e.other.Load(t.Context())
	if err != nil || saved == nil || saved.Tokens == nil || saved.APIKey == nil {
		t.Fatalf("auth.json as another process reads it: %v (record set %v)", err, saved != nil)
	}
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := &Account{Type: "chatgpt", Email: "ada@example.com", PlanType: "pro", WorkspaceID: "ws-ada"}
	if diff := cmp.Diff(want, st.Account, cmpopts.IgnoreFields(Account{}, "ExpiresAt")); diff != "" {
		t.Errorf("status account (-want +got):\n%s", diff)
	}
	tok, err := e.m.Token(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Type != "chatgpt" || tok.AccessToken != saved.Tokens.AccessToken || tok.AccountID != "ws-ada" {
		t.Errorf("token (type %q, account %q) is not the stored access token", tok.Type, tok.AccountID)
	}

	res, err := e.m.LogoutAndRevoke(t.Context())
	revoked := res.Revoked && res.Existed
	if err != nil || !revoked {
		t.Fatalf("LogoutAndRevoke = %v, %v; want revoked", revoked, err)
	}
	if got := e.srv.Stats().Revocations; got != 1 {
		t.Errorf("issuer revocations = %d, want 1", got)
	}
	if rec, err := e.other.Load(t.Context()); rec != nil || err != nil {
		t.Errorf("after logout another process loads (set %v, %v), want nothing", rec != nil, err)
	}
	e.rec.waitFor(t, "logout", func(evs []any) bool { return len(evs) >= 3 })
	if diff := cmp.Diff([]any{AccountUpdated{}}, e.rec.all()[2:]); diff != "" {
		t.Errorf("notifications after logout (-want +got):\n%s", diff)
	}
}

func TestE2EDeviceLogin(t *testing.T) {
	tests := []struct {
		name string
		// decide acts once the flow has seen "pending".
		decide  func(e *e2eEnv, code string) error
		wantErr string // LoginCompleted.Error; "" for success
	}{
		{"pending then approved", func(e *e2eEnv, code string) error { return e.srv.ApproveDevice(code) }, ""},
		{"denied", func(e *e2eEnv, code string) error { return e.srv.DenyDevice(code) }, ErrDeviceDenied.Error()},
		{"expired at the issuer", func(e *e2eEnv, _ string) error { e.srv.Advance(16 * time.Minute); return nil }, ErrDeviceExpired.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, e2eOptions{})
			polled := e.arrival(e2ePollPath, 2) // the second poll: the first was answered "pending"
			ctx, cancel := context.WithCancel(t.Context())
			dl, err := e.m.StartDeviceLogin(ctx)
			cancel()
			if err != nil {
				t.Fatalf("StartDeviceLogin: %v", err)
			}
			if dl.LoginID == "" || dl.UserCode == "" || dl.VerificationURL == "" || dl.ExpiresAt.IsZero() {
				t.Fatalf("StartDeviceLogin = %+v, want an id, a code, a URL and an expiry", dl)
			}
			openaiGuard(t, "the second poll", polled)
			if err := e.between(func() error { return tt.decide(e, dl.UserCode) }); err != nil {
				t.Fatal(err)
			}
			evs := e.rec.waitFor(t, "login completed", succeeded(dl.LoginID))
			want := []any{LoginCompleted{LoginID: dl.LoginID, Error: tt.wantErr}}
			if tt.wantErr == "" {
				want = []any{LoginCompleted{LoginID: dl.LoginID, Success: true}, e2eWantUpdated}
			}
			if diff := cmp.Diff(want, evs); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
			saved, err := e.other.Load(t.Context())
			if err != nil || (saved != nil) != (tt.wantErr == "") {
				t.Errorf("stored record set = %v (%v), want %v", saved != nil, err, tt.wantErr == "")
			}
		})
	}

	t.Run("expired by the limit", func(t *testing.T) {
		e := newE2E(t, e2eOptions{mutate: func(o *Options) { o.DeviceLimit = 50 * time.Millisecond }})
		dl, err := e.m.StartDeviceLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		evs := e.rec.waitFor(t, "login completed", succeeded(dl.LoginID))
		if diff := cmp.Diff([]any{LoginCompleted{LoginID: dl.LoginID, Error: ErrDeviceExpired.Error()}}, evs); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
	})

	t.Run("not enabled", func(t *testing.T) {
		e := newE2E(t, e2eOptions{issuer: localissuer.Config{DeviceDisabled: true}})
		_, err := e.m.StartDeviceLogin(t.Context())
		if !errors.Is(err, ErrDeviceCodeDisabled) {
			t.Errorf("StartDeviceLogin error = %v, want ErrDeviceCodeDisabled", err)
		}
		if evs := e.rec.all(); len(evs) != 0 {
			t.Errorf("notifications %#v, want none: no login was started", evs)
		}
		// The browser login still works.
		if _, err := e.m.StartBrowserLogin(t.Context()); err != nil {
			t.Errorf("StartBrowserLogin after a refused device login: %v", err)
		}
	})

	t.Run("workspace refused", func(t *testing.T) {
		e := newE2E(t, e2eOptions{mutate: func(o *Options) { o.Config.ForcedWorkspaceIDs = []string{"ws-other"} }})
		polled := e.arrival(e2ePollPath, 1)
		dl, err := e.m.StartDeviceLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		openaiGuard(t, "the first poll", polled)
		if err := e.between(func() error { return e.srv.ApproveDevice(dl.UserCode) }); err != nil {
			t.Fatal(err)
		}
		evs := e.rec.waitFor(t, "login completed", succeeded(dl.LoginID))
		want := LoginCompleted{LoginID: dl.LoginID, Error: "Login is restricted to workspace(s) ws-other, but current credentials belong to ws-ada."}
		if diff := cmp.Diff([]any{want}, evs); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
		if rec, _ := e.other.Load(t.Context()); rec != nil {
			t.Error("a login the policy refuses was saved")
		}
	})

	for _, how := range []string{"CancelLogin", "Close"} {
		t.Run(how+" mid-poll", func(t *testing.T) {
			// An hour-long client timeout: only the cancellation can end the
			// poll that hangs.
			e := newE2E(t, e2eOptions{timeout: time.Hour})
			if err := e.srv.SetFaults(localissuer.Faults{{Kind: localissuer.FaultHang, Path: e2ePollPath}}); err != nil {
				t.Fatal(err)
			}
			polled := e.arrival(e2ePollPath, 1)
			dl, err := e.m.StartDeviceLogin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			openaiGuard(t, "the first poll", polled)
			if how == "CancelLogin" {
				if !e.m.CancelLogin(t.Context(), dl.LoginID) {
					t.Error("CancelLogin found no login")
				}
			} else {
				e.m.Close()
			}
			// CancelLogin and Close wait for the flow: it has ended now.
			if diff := cmp.Diff([]any{LoginCompleted{LoginID: dl.LoginID, Error: "canceled"}}, e.rec.all()); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
		})
	}
}

// TestE2EDeviceStartHangs: an issuer that accepts and never answers does
// not freeze the Manager, and the start ends with a clear error.
func TestE2EDeviceStartHangs(t *testing.T) {
	type result struct {
		dl  DeviceLogin
		err error
	}
	start := func(e *e2eEnv, ctx context.Context) (<-chan result, <-chan struct{}) {
		arrived := e.arrival(e2eUserCodePath, 1)
		done := make(chan result, 1)
		go func() {
			dl, err := e.m.StartDeviceLogin(ctx)
			done <- result{dl, err}
		}()
		return done, arrived
	}
	hang := localissuer.Config{Faults: localissuer.Faults{{Kind: localissuer.FaultHang, Path: e2eUserCodePath}}}

	t.Run("client timeout", func(t *testing.T) {
		e := newE2E(t, e2eOptions{issuer: hang, timeout: time.Second})
		done, arrived := start(e, t.Context())
		openaiGuard(t, "the usercode request", arrived)
		// The start waits on the issuer: other requests are answered.
		st, err := e.m.Status(t.Context(), false)
		if err != nil || st.Account != nil {
			t.Errorf("Status while a device start waits = (%+v, %v), want logged out", st.Account, err)
		}
		select {
		case r := <-done:
			t.Fatalf("the start returned (%v) before Status was answered", r.err)
		default:
		}
		r := openaiGuard(t, "StartDeviceLogin", done)
		if !errors.Is(r.err, ErrIssuerUnavailable) {
			t.Errorf("StartDeviceLogin error = %v, want ErrIssuerUnavailable", r.err)
		}
		if evs := e.rec.all(); len(evs) != 0 {
			t.Errorf("notifications %#v, want none", evs)
		}
	})

	t.Run("request cancelled", func(t *testing.T) {
		e := newE2E(t, e2eOptions{issuer: hang, timeout: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		done, arrived := start(e, ctx)
		openaiGuard(t, "the usercode request", arrived)
		cancel() // $/cancelRequest
		r := openaiGuard(t, "StartDeviceLogin", done)
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("StartDeviceLogin error = %v, want context.Canceled", r.err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		e := newE2E(t, e2eOptions{issuer: hang, timeout: time.Hour})
		done, arrived := start(e, t.Context())
		openaiGuard(t, "the usercode request", arrived)
		e.m.Close()
		if r := openaiGuard(t, "StartDeviceLogin", done); r.err == nil {
			t.Error("StartDeviceLogin succeeded after Close")
		}
	})
}

// TestE2EHostileClientInfo: whatever an editor sends as clientInfo (it
// goes into the user agent), calls to the issuer keep working.
func TestE2EHostileClientInfo(t *testing.T) {
	for _, ci := range []struct{ name, version string }{
		{"vim\r\nX-Injected: 1", "9.1"},
		{"nul\x00bell\x07", "1\x7f"},
		{"tab\there", "\n"},
		{"(((", ")))\\"},
		{strings.Repeat("editor ", 500), strings.Repeat("9", 500)},
		{"édïteur ✓", "1.0"},
	} {
		hc, err := httpclient.New(httpclient.Options{Timeout: 5 * time.Second, UserAgent: "codex-auth/test"})
		if err != nil {
			t.Fatal(err)
		}
		e := newE2E(t, e2eOptions{http: hc})
		e.m.SetClient(ci.name, ci.version)
		if len(ci.name) > 40 {
			ci.name = ci.name[:40] + "..."
		}
		if len(ci.version) > 40 {
			ci.version = ci.version[:40] + "..."
		}
		if _, err := e.m.StartDeviceLogin(t.Context()); err != nil {
			t.Errorf("StartDeviceLogin after clientInfo {name: %q, version: %q}: %v", ci.name, ci.version, err)
		}
		ua := hc.UserAgent()
		if !strings.HasPrefix(ua, "codex-auth/") || strings.ContainsAny(ua, "\r\n\x00\x07\x7f\t") || len(ua) > 256 || strings.Count(ua, "(") != strings.Count(ua, ")") || strings.Count(ua, "(") > 1 {
			t.Errorf("clientInfo {name: %q, version: %q}: user agent %q, want codex-auth/... [(editor)] on one line, printable, at most 256 bytes", ci.name, ci.version, ua)
		}
	}
}
