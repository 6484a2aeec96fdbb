package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/codex-auth/codex-auth/store"
)

type testEnv struct {
	m   *Manager
	st  *memStore
	iss *fakeIssuer
	rec *recorder
}

func newTestEnv(t *testing.T, mutate func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{
		st:  &memStore{},
		iss: newFakeIssuer(t, testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"}),
		rec: newRecorder(),
	}
	opts := Options{
		Store:        e.st,
		Issuer:       e.iss,
		Editor:       e.rec,
		Headless:     func() bool { return false },
		CallbackPort: AnyCallbackPort,
		// No late delay before redeeming a token inside Codex's window:
		// tests of it set their own (in virtual time).
		LateDelay: time.Nanosecond,
	}
	if mutate != nil {
		mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	e.m = m
	return e
}

// succeeded waits until login id has ended: its LoginCompleted, and after
// a success also the Updated the Manager sends right behind it.
func succeeded(id string) func([]any) bool {
	return func(evs []any) bool {
		for i, e := range evs {
			lc, ok := e.(LoginCompleted)
			if !ok || lc.LoginID != id {
				continue
			}
			if !lc.Success {
				return true
			}
			for _, later := range evs[i+1:] {
				if _, ok := later.(AccountUpdated); ok {
					return true
				}
			}
			return false
		}
		return false
	}
}

func TestBrowserLoginEndToEnd(t *testing.T) {
	opened := make(chan string, 1)
	e := newTestEnv(t, func(o *Options) {
		o.Browser = func(ctx context.Context, url string) (bool, error) {
			opened <- url
			return true, nil
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	bl, err := e.m.StartBrowserLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the request that started the login is over: the flow goes on
	if bl.Headless || bl.Message != "" || bl.LoginID == "" {
		t.Errorf("got %+v, want a login id and no headless message", bl)
	}
	if got := <-opened; got != bl.AuthURL {
		t.Errorf("Browser got %q, want the authUrl %q", got, bl.AuthURL)
	}
	resp, body := browser(t, bl.AuthURL)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/success" {
		t.Errorf("browser ended at %s with %d, want /success 200", resp.Request.URL, resp.StatusCode)
	}
	if strings.Contains(body, "rt-") || strings.Contains(body, "code-") {
		t.Errorf("success page holds a secret: %s", body)
	}
	evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
	if diff := cmp.Diff([]any{
		LoginCompleted{LoginID: bl.LoginID, Success: true},
		AccountUpdated{AuthMode: "chatgpt", PlanType: "plus", Email: "ada@example.com", WorkspaceID: "ws-1"},
	}, evs); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}

	saved := e.st.get()
	if saved == nil || saved.AuthMode != "chatgpt" || saved.Tokens == nil || saved.Tokens.AccountID == nil ||
		*saved.Tokens.AccountID != "ws-1" || saved.APIKey == nil || saved.LastRefresh == nil {
		t.Fatalf("saved record %+v lacks Codex's fields", saved)
	}

	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := &Account{Type: "chatgpt", Email: "ada@example.com", PlanType: "plus", WorkspaceID: "ws-1"}
	if diff := cmp.Diff(want, st.Account, cmpopts.IgnoreFields(Account{}, "ExpiresAt")); diff != "" {
		t.Errorf("status account (-want +got):\n%s", diff)
	}
	if st.Account.ExpiresAt.IsZero() {
		t.Error("status has no expiresAt")
	}

	tok, err := e.m.Token(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Type != "chatgpt" || tok.AccessToken != saved.Tokens.AccessToken || tok.AccountID != "ws-1" {
		t.Errorf("token %+v does not match the saved record", tok.Type)
	}

	res, err := e.m.LogoutAndRevoke(t.Context())
	revoked := res.Revoked && res.Existed
	if err != nil || !revoked {
		t.Fatalf("LogoutAndRevoke = %v, %v; want revoked", revoked, err)
	}
	if _, _, rv := e.iss.stats(); !cmp.Equal(rv, []string{"refresh_token:" + saved.Tokens.RefreshToken}) {
		t.Errorf("issuer revoked %d tokens, want the refresh token", len(rv))
	}
	if e.st.get() != nil {
		t.Error("the record is still stored after logout")
	}
	st, _ = e.m.Status(t.Context(), false)
	if st.Account != nil {
		t.Errorf("status after logout: %+v, want no account", st.Account)
	}
	if _, err := e.m.Token(t.Context(), false); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("token after logout: %v, want ErrNotLoggedIn", err)
	}
}

func TestBrowserLoginHeadless(t *testing.T) {
	called := false
	e := newTestEnv(t, func(o *Options) {
		o.Headless = func() bool { return true }
		o.Browser = func(ctx context.Context, url string) (bool, error) { called = true; return true, nil }
	})
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !bl.Headless || bl.Message != HeadlessMessage || bl.AuthURL == "" {
		t.Errorf("got %+v, want headless with the device-code hint and an authUrl", bl)
	}
	if !e.m.CancelLogin(t.Context(), bl.LoginID) {
		t.Error("CancelLogin found no login")
	}
	if called {
		t.Error("Browser was called on a headless machine")
	}
}

func TestBrowserLoginWorkspacePolicy(t *testing.T) {
	e := newTestEnv(t, func(o *Options) {
		o.Config = store.Config{ForcedWorkspaceIDs: []string{"ws-allowed"}}
	})
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	resp, body := browser(t, bl.AuthURL)
	if resp.StatusCode != 403 {
		t.Errorf("browser got %d, want 403", resp.StatusCode)
	}
	const msg = "Login is restricted to workspace(s) ws-allowed, but current credentials belong to ws-1."
	if !strings.Contains(body, msg) {
		t.Errorf("page %q lacks %q", body, msg)
	}
	evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
	if diff := cmp.Diff([]any{LoginCompleted{LoginID: bl.LoginID, Error: msg}}, evs); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if e.st.get() != nil {
		t.Error("a refused login saved a record")
	}
}

func TestLoginMethodPolicy(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Config = store.Config{ForcedLoginMethod: "api"} })
	_, err := e.m.StartBrowserLogin(t.Context())
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Message != "ChatGPT login is disabled. Use API key login instead." {
		t.Errorf("StartBrowserLogin: %v, want Codex's refusal", err)
	}
	if _, err := e.m.StartDeviceLogin(t.Context()); !errors.As(err, &pe) {
		t.Errorf("StartDeviceLogin: %v, want a policy error", err)
	}
}

func TestNewLoginCancelsPrevious(t *testing.T) {
	e := newTestEnv(t, nil)
	first, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	evs := e.rec.waitFor(t, "first login ended", succeeded(first.LoginID))
	if diff := cmp.Diff([]LoginCompleted{{LoginID: first.LoginID, Error: "canceled"}}, completed(evs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := e.m.LoginAPIKey(t.Context(), "sk-proj-abcdefghijklmnopqrstuvwxyz"); err != nil {
		t.Fatal(err)
	}
	evs = e.rec.waitFor(t, "second login ended", succeeded(second.LoginID))
	if got := completed(evs); len(got) != 2 || got[1] != (LoginCompleted{LoginID: second.LoginID, Error: "canceled"}) {
		t.Errorf("completions %+v, want the second canceled by the API key login", got)
	}
	if e.m.CancelLogin(t.Context(), second.LoginID) {
		t.Error("CancelLogin of an ended login reported it running")
	}
}

func TestLoginTimeout(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.LoginTimeout = time.Millisecond })
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	evs := e.rec.waitFor(t, "login timed out", succeeded(bl.LoginID))
	if got := completed(evs)[0]; got.Error != "login timed out" || got.Success {
		t.Errorf("got %+v, want a timeout", got)
	}
}
