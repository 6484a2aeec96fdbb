package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// Known fake secrets: they may appear only in the account/token reply.
const (
	fakeAPIKey      = "sk-proj-FAKEKEYabcdefghij0123456789vwxyz"
	fakeAccessToken = "eyFAKEACCESS.token.signature0123456789"
	fakeLoginKey    = "sk-login-FAKEKEY-ZZZZ-9876543210"
)

var fakeSecrets = []string{fakeAPIKey, fakeAccessToken, fakeLoginKey}

// fakeService is a Service with canned answers. LoginAPIKey blocks until
// release is closed or its ctx ends when block is set.
type fakeService struct {
	mu         sync.Mutex
	clientName string
	clientVer  string
	loggedIn   bool
	tokenType  session.AccountType
	block      bool
	entered    chan string   // receives the key when LoginAPIKey starts (if set)
	release    chan struct{} // closes to let a blocked LoginAPIKey finish
	editor     session.Editor
	logoutErr  error
}

func newFakeService() *fakeService {
	return &fakeService{loggedIn: true, tokenType: "apiKey", release: make(chan struct{})}
}

func (f *fakeService) SetClient(name, version string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clientName, f.clientVer = name, version
}

func (f *fakeService) Status(ctx context.Context, refresh bool) (session.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := session.Status{
		RequiresOpenAIAuth: true,
		StoreMode:          "file",
		StoreLocation:      "/home/u/.codex/auth.json",
		Policy:             session.Policy{ForcedLoginMethod: "api"},
	}
	switch {
	case f.loggedIn && f.tokenType == session.AccountPersonalAccessToken:
		st.Policy = session.Policy{}
		st.Account = &session.Account{Type: f.tokenType, Email: "pat@example.com", PlanType: "business", WorkspaceID: "ws-pat"}
	case f.loggedIn:
		st.Account = &session.Account{Type: "apiKey", APIKeyHint: "sk-proj-***vwxyz"}
	}
	return st, nil
}

func (f *fakeService) LoginAccessToken(ctx context.Context, token string) error {
	if token == "" {
		return &session.InputError{Field: "accessToken", Reason: "must not be empty"}
	}
	if !strings.HasPrefix(token, "at-") {
		return &session.AccessTokenError{Message: "only personal access tokens (at-…) can be saved by codex-auth", Err: session.ErrLoginTypeUnsupported}
	}
	f.mu.Lock()
	f.loggedIn, f.tokenType = true, session.AccountPersonalAccessToken
	f.mu.Unlock()
	return nil
}

func (f *fakeService) LoginAPIKey(ctx context.Context, apiKey string) error {
	if apiKey == "" {
		return &session.InputError{Field: "apiKey", Reason: "must not be empty"}
	}
	if f.entered != nil {
		f.entered <- "entered"
	}
	if f.block {
		select {
		case <-ctx.Done():
			return fmt.Errorf("login stopped: %w", ctx.Err())
		case <-f.release:
		}
	}
	f.mu.Lock()
	f.loggedIn = true
	editor := f.editor
	f.mu.Unlock()
	if editor != nil {
		editor.AccountUpdated(session.AccountUpdated{AuthMode: "apikey"})
	}
	return nil
}

func (f *fakeService) StartBrowserLogin(ctx context.Context) (session.BrowserLogin, error) {
	return session.BrowserLogin{LoginID: "login-1", AuthURL: "http://localhost:1455/auth?state=x"}, nil
}

func (f *fakeService) StartDeviceLogin(ctx context.Context) (session.DeviceLogin, error) {
	return session.DeviceLogin{}, fmt.Errorf("device: %w", session.ErrDeviceCodeDisabled)
}

func (f *fakeService) CancelLogin(ctx context.Context, loginID string) bool {
	return loginID == "login-1"
}

func (f *fakeService) Logout(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logoutErr != nil {
		return f.logoutErr
	}
	f.loggedIn = false
	if f.editor != nil {
		f.editor.AccountUpdated(session.AccountUpdated{})
	}
	return nil
}

func (f *fakeService) Token(ctx context.Context, refresh bool) (session.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loggedIn {
		return session.Token{}, session.ErrNotLoggedIn
	}
	if f.tokenType == "chatgpt" {
		return session.Token{Type: "chatgpt", AccessToken: fakeAccessToken, AccountID: "ws-1",
			ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
	}
	if f.tokenType == session.AccountPersonalAccessToken {
		return session.Token{Type: f.tokenType, AccessToken: "at-fake-personal-access-token", AccountID: "ws-pat"}, nil
	}
	return session.Token{Type: "apiKey", APIKey: fakeAPIKey}, nil
}

// fakeAccounts is the saved-account list of the fake service: a ChatGPT
// account (active) and an API key.
func fakeAccounts(active string) session.AccountList {
	l := session.AccountList{ActiveID: active, Accounts: []session.SavedAccount{
		{SessionID: "6f1c2d3e-0000-8000-8000-000000000001", Type: session.AccountChatGPT, Email: "ada@example.com", UserID: "user-ada",
			LastUsedAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), SelectedWorkspaceID: "ws-ada",
			Workspaces: []session.Workspace{{AccountID: "ws-ada"}}, PlanType: "pro"},
		{SessionID: "6f1c2d3e-0000-8000-8000-000000000002", Type: session.AccountAPIKey, APIKeyHint: "sk-proj-***vwxyz",
			LastUsedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Workspaces: []session.Workspace{}, Forbidden: "API key login is disabled. Use ChatGPT login instead."},
	}}
	return l
}

func (f *fakeService) AccountToken(ctx context.Context, ref string, refresh bool) (session.Token, error) {
	switch ref {
	case "", "6f1c2d3e-0000-8000-8000-000000000001", "ada@example.com":
		return f.Token(ctx, refresh)
	case "6f1c2d3e-0000-8000-8000-000000000002":
		return session.Token{}, &session.PolicyError{Message: "API key login is disabled. Use ChatGPT login instead."}
	}
	return session.Token{}, &store.NotSavedError{Reason: "no saved account has that session id or email"}
}

func (f *fakeService) Accounts(ctx context.Context) (session.AccountList, error) {
	return fakeAccounts("6f1c2d3e-0000-8000-8000-000000000001"), nil
}

func (f *fakeService) SwitchAccount(ctx context.Context, ref string) (session.AccountList, error) {
	switch ref {
	case "6f1c2d3e-0000-8000-8000-000000000001", "ada@example.com":
		return fakeAccounts("6f1c2d3e-0000-8000-8000-000000000001"), nil
	case "6f1c2d3e-0000-8000-8000-000000000002":
		return session.AccountList{}, &session.PolicyError{Message: "API key login is disabled. Use ChatGPT login instead."}
	case "expired@example.com":
		return session.AccountList{}, session.ErrNeedsLogin
	}
	return session.AccountList{}, &store.NotSavedError{Reason: "no saved account has that session id or email"}
}

func (f *fakeService) LogoutAccount(ctx context.Context, ref string) (session.AccountList, error) {
	if ref != "6f1c2d3e-0000-8000-8000-000000000002" {
		return session.AccountList{}, &store.NotSavedError{Reason: "no saved account has that session id or email"}
	}
	l := fakeAccounts("6f1c2d3e-0000-8000-8000-000000000001")
	l.Accounts = l.Accounts[:1]
	return l, nil
}

func (f *fakeService) ForgetAccount(ctx context.Context, ref string) (session.AccountList, error) {
	if ref == "6f1c2d3e-0000-8000-8000-000000000001" {
		return session.AccountList{}, &session.InputError{Field: "sessionId", Reason: "is the active account: switch first or log out"}
	}
	return f.LogoutAccount(ctx, ref)
}

// logRecorder is a slog.Handler keeping every record as text.
type logRecorder struct {
	mu    *sync.Mutex
	lines *[]string
}

func newLogRecorder() *logRecorder { return &logRecorder{mu: &sync.Mutex{}, lines: &[]string{}} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	*l.lines = append(*l.lines, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(*l.lines, "\n")
}

// harness is a server running on pipes with a fake editor.
type harness struct {
	srv  *rpc.Server
	svc  *fakeService
	ed   *editortest.Editor
	logs *logRecorder
	code chan int
}

// start runs a server over pipes until the test ends.
func start(t *testing.T, svc *fakeService, tweak func(*rpc.Options)) *harness {
	t.Helper()
	logs := newLogRecorder()
	opts := rpc.Options{Name: "codex-auth", Version: "0.0.0-test", Logger: slog.New(logs)}
	if tweak != nil {
		tweak(&opts)
	}
	srv, err := rpc.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	svc.editor = srv
	edEnd, in, out := editortest.Pipes()
	h := &harness{srv: srv, svc: svc, logs: logs, code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.code <- srv.Run(ctx, svc, in, out) }()
	h.ed = editortest.New(t, edEnd)
	t.Cleanup(func() {
		cancel()
		<-h.ed.Done()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.text())
		}
	})
	return h
}

// initialize sends initialize (protocol version 1) and initialized.
func (h *harness) initialize(t *testing.T, ctx context.Context, caps any) {
	t.Helper()
	params := map[string]any{
		"processId":             nil,
		"clientInfo":            map[string]string{"name": "test-editor", "version": "9.9"},
		"capabilities":          caps,
		"initializationOptions": map[string]string{"protocolVersion": "1"},
	}
	if caps == nil {
		params["capabilities"] = map[string]any{}
	}
	if err := h.ed.Call(ctx, "initialize", params, nil); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if err := h.ed.Notify("initialized", map[string]any{}); err != nil {
		t.Fatalf("initialized: %v", err)
	}
}

// wantCode checks that err is a JSON-RPC error with code.
func wantCode(t *testing.T, what string, err error, code int64) *editortest.Error {
	t.Helper()
	je, ok := err.(*editortest.Error)
	if !ok {
		t.Fatalf("%s: got error %v, want JSON-RPC error %d", what, err, code)
	}
	if je.Code != code {
		t.Fatalf("%s: got code %d (%s), want %d", what, je.Code, je.Message, code)
	}
	return je
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
