package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

func TestNewServerValidates(t *testing.T) {
	tests := []struct {
		name string
		opts rpc.Options
	}{
		{"no name", rpc.Options{}},
		{"negative cap", rpc.Options{Name: "x", MaxMessageBytes: -1}},
		{"negative in-flight", rpc.Options{Name: "x", MaxInFlight: -1}},
	}
	srv, err := rpc.NewServer(rpc.Options{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if code := srv.Run(t.Context(), nil, strings.NewReader(""), io.Discard); code != 1 {
		t.Errorf("Run without a service: exit %d, want 1", code)
	}
	for _, tt := range tests {
		if _, err := rpc.NewServer(tt.opts); err == nil {
			t.Errorf("%s: NewServer succeeded, want an error", tt.name)
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name  string
		steps func(t *testing.T, h *harness)
		want  int
	}{
		{"exit after shutdown", func(t *testing.T, h *harness) {
			h.initialize(t, t.Context(), nil)
			if err := h.ed.Call(t.Context(), "shutdown", nil, nil); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			err := h.ed.Call(t.Context(), "account/read", nil, nil)
			wantCode(t, "account/read after shutdown", err, -32600)
			_ = h.ed.Notify("exit", nil)
		}, 0},
		{"exit without shutdown", func(t *testing.T, h *harness) {
			h.initialize(t, t.Context(), nil)
			_ = h.ed.Notify("exit", nil)
		}, 1},
		{"exit before initialize", func(t *testing.T, h *harness) {
			_ = h.ed.Notify("exit", nil)
		}, 1},
		{"end of input after initialize", func(t *testing.T, h *harness) {
			h.initialize(t, t.Context(), nil)
			_ = h.ed.Close()
		}, 0},
		{"end of input at once", func(t *testing.T, h *harness) { _ = h.ed.Close() }, 0},
		{"end of input mid-frame", func(t *testing.T, h *harness) {
			_ = h.ed.WriteRaw([]byte("Content-Length: 100\r\n\r\n{\"jsonrpc\""))
			_ = h.ed.Close()
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, newFakeService(), nil)
			tt.steps(t, h)
			if got := <-h.code; got != tt.want {
				t.Errorf("exit code: got %d, want %d", got, tt.want)
			}
			<-h.ed.Done() // Run closed its output
		})
	}
}

func TestContextDoneStopsRun(t *testing.T) {
	svc := newFakeService()
	srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth"})
	if err != nil {
		t.Fatal(err)
	}
	edEnd, in, out := editortest.Pipes()
	ed := editortest.New(t, edEnd)
	ctx, cancel := context.WithCancel(t.Context())
	code := make(chan int, 1)
	go func() { code <- srv.Run(ctx, svc, in, out) }()
	if err := ed.Call(t.Context(), "initialize", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	svc.block = true
	rawID, err := ed.SendRequest(7, "account/login/start", map[string]string{"type": "apiKey", "apiKey": "k"})
	if err != nil {
		t.Fatal(err)
	}
	_ = rawID
	cancel()
	if got := <-code; got != 0 {
		t.Errorf("exit code: got %d, want 0", got)
	}
	<-ed.Done()
}

func TestBeforeInitialize(t *testing.T) {
	h := start(t, newFakeService(), nil)
	ctx := t.Context()
	wantCode(t, "account/read", h.ed.Call(ctx, "account/read", nil, nil), -32002)
	wantCode(t, "shutdown", h.ed.Call(ctx, "shutdown", nil, nil), -32002)
	wantCode(t, "unknown", h.ed.Call(ctx, "nope", nil, nil), -32002)
	h.srv.AccountUpdated(session.AccountUpdated{AuthMode: "apikey"}) // dropped
	h.initialize(t, ctx, nil)
	if err := h.ed.Call(ctx, "account/read", nil, nil); err != nil {
		t.Fatalf("account/read after initialize: %v", err)
	}
	for _, m := range h.ed.Messages() {
		if m.Method == "account/updated" {
			t.Errorf("notification sent before initialize: %s", m.Params)
		}
	}
}

// TestInvalidationBeforeInitialize: the sidecar enforces policy at start,
// before the editor has initialized; the latest session invalidation of
// that time reaches the editor once it has (after initialized), once.
// Other notifications of that time are not kept: account/read answers
// them.
func TestInvalidationBeforeInitialize(t *testing.T) {
	svc := newFakeService()
	srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth", Version: "0.0.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	// As serve does: Manager.Start runs before Run.
	srv.SessionInvalidated(session.Invalidation{Reason: session.ReasonLoggedOut, Message: "older"})
	srv.SessionInvalidated(session.Invalidation{Reason: session.ReasonPolicyViolation, Message: "API key login is disabled. Use ChatGPT login instead. Logging out."})
	srv.AccountUpdated(session.AccountUpdated{})
	edEnd, in, out := editortest.Pipes()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go srv.Run(ctx, svc, in, out)
	ed := editortest.New(t, edEnd)
	if err := ed.Call(ctx, "initialize", map[string]any{"initializationOptions": map[string]string{"protocolVersion": "1"}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range ed.Messages() {
		if m.IsNotification() {
			t.Errorf("notification before initialized: %s %s", m.Method, m.Params)
		}
	}
	if err := ed.Notify("initialized", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	got, err := ed.WaitFor(wctx, "account/sessionInvalidated", nil)
	if err != nil {
		t.Fatalf("the invalidation found at start never reached the editor: %v", err)
	}
	if diff := cmp.Diff(`{"reason":"policyViolation","message":"API key login is disabled. Use ChatGPT login instead. Logging out."}`, string(got)); diff != "" {
		t.Errorf("sessionInvalidated (-want +got):\n%s", diff)
	}
	// A round trip after: nothing else was queued.
	if err := ed.Call(ctx, "account/read", nil, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ed.Messages() {
		if m.IsNotification() {
			n++
			if m.Method != "account/sessionInvalidated" {
				t.Errorf("notification from before initialize sent: %s %s", m.Method, m.Params)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d notifications, want the one invalidation", n)
	}
}

func TestProtocolVersion(t *testing.T) {
	tests := []struct {
		name     string
		opts     any
		wantCode int64
		wantMsg  []string
	}{
		{name: "same", opts: map[string]any{"protocolVersion": "1"}},
		{name: "same major", opts: map[string]any{"protocolVersion": "1.4"}},
		{name: "absent", opts: nil},
		{name: "empty options", opts: map[string]any{}},
		{name: "newer", opts: map[string]any{"protocolVersion": "2"}, wantCode: -32019, wantMsg: []string{`"2"`, `"1"`}},
		{name: "older", opts: map[string]any{"protocolVersion": "0.9"}, wantCode: -32019, wantMsg: []string{`"0.9"`, `"1"`}},
		{name: "not a string", opts: map[string]any{"protocolVersion": 1}, wantCode: -32602, wantMsg: []string{"initializationOptions.protocolVersion must be a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newFakeService()
			h := start(t, svc, nil)
			ctx := t.Context()
			params := map[string]any{"capabilities": map[string]any{}, "clientInfo": map[string]string{"name": "vscode", "version": "1.99"}}
			if tt.opts != nil {
				params["initializationOptions"] = tt.opts
			}
			var res struct {
				Capabilities struct {
					Experimental struct {
						CodexAuth rpc.CodexAuthCapabilities `json:"codexAuth"`
					} `json:"experimental"`
				} `json:"capabilities"`
				ServerInfo struct{ Name, Version string } `json:"serverInfo"`
			}
			err := h.ed.Call(ctx, "initialize", params, &res)
			if tt.wantCode != 0 {
				je := wantCode(t, "initialize", err, tt.wantCode)
				for _, s := range tt.wantMsg {
					if !strings.Contains(je.Message, s) {
						t.Errorf("message %q does not name %s", je.Message, s)
					}
				}
				// Still not initialized.
				wantCode(t, "account/read", h.ed.Call(ctx, "account/read", nil, nil), -32002)
				return
			}
			if err != nil {
				t.Fatalf("initialize: %v", err)
			}
			if got, want := res.Capabilities.Experimental.CodexAuth.ProtocolVersion, "1"; got != want {
				t.Errorf("protocolVersion: got %q, want %q", got, want)
			}
			if got, want := res.ServerInfo.Name, "codex-auth"; got != want {
				t.Errorf("serverInfo.name: got %q, want %q", got, want)
			}
			svc.mu.Lock()
			gotClient := [2]string{svc.clientName, svc.clientVer}
			svc.mu.Unlock()
			if diff := cmp.Diff([2]string{"vscode", "1.99"}, gotClient); diff != "" {
				t.Errorf("SetClient (-want +got):\n%s", diff)
			}
		})
	}
}

// A slow request does not hold up another; $/cancelRequest with numeric
// and string ids makes it reply -32800.
func TestConcurrencyAndCancel(t *testing.T) {
	for _, id := range []any{41, "login-request"} {
		t.Run(string(mustJSON(t, id)), func(t *testing.T) {
			svc := newFakeService()
			svc.block = true
			svc.entered = make(chan string, 1)
			h := start(t, svc, nil)
			ctx := t.Context()
			h.initialize(t, ctx, nil)
			rawID, err := h.ed.SendRequest(id, "account/login/start", map[string]string{"type": "apiKey", "apiKey": fakeLoginKey})
			if err != nil {
				t.Fatal(err)
			}
			<-svc.entered // the login is in flight
			var st rpc.AccountReadResult
			if err := h.ed.Call(ctx, "account/read", nil, &st); err != nil {
				t.Fatalf("account/read while a login is in flight: %v", err)
			}
			if err := h.ed.Notify("$/cancelRequest", map[string]any{"id": json.RawMessage(rawID)}); err != nil {
				t.Fatal(err)
			}
			je := wantCode(t, "cancelled login", h.ed.Reply(ctx, rawID, nil), -32800)
			if je.Message != "request cancelled" {
				t.Errorf("message: got %q", je.Message)
			}
		})
	}
}

// A cancel naming the number 5 does not cancel the string "5".
func TestCancelKeepsIDTypes(t *testing.T) {
	svc := newFakeService()
	svc.block = true
	svc.entered = make(chan string, 1)
	h := start(t, svc, nil)
	ctx := t.Context()
	h.initialize(t, ctx, nil)
	rawID, err := h.ed.SendRequest("5", "account/login/start", map[string]string{"type": "apiKey", "apiKey": "k"})
	if err != nil {
		t.Fatal(err)
	}
	<-svc.entered
	_ = h.ed.Notify("$/cancelRequest", map[string]any{"id": 5})
	close(svc.release)
	if err := h.ed.Reply(ctx, rawID, nil); err != nil {
		t.Fatalf("login with id \"5\" after a cancel of 5: %v", err)
	}
}

func TestNotifications(t *testing.T) {
	h := start(t, newFakeService(), nil)
	ctx := t.Context()
	h.initialize(t, ctx, nil)
	h.srv.AccountUpdated(session.AccountUpdated{AuthMode: "chatgpt", PlanType: "plus", Email: "a@example.com", WorkspaceID: "ws-1"})
	h.srv.LoginCompleted(session.LoginCompleted{LoginID: "l1", Success: false, Error: "denied"})
	h.srv.LoginCompleted(session.LoginCompleted{LoginID: "l2", Success: true})
	h.srv.SessionInvalidated(session.Invalidation{Reason: session.ReasonRefreshFailed, Message: "log in again"})
	tests := []struct {
		method string
		match  string
		want   string
	}{
		{"account/updated", "", `{"authMode":"chatgpt","planType":"plus","email":"a@example.com","workspaceId":"ws-1"}`},
		{"account/login/completed", `"l1"`, `{"loginId":"l1","success":false,"error":"denied"}`},
		{"account/login/completed", `"l2"`, `{"loginId":"l2","success":true,"error":null}`},
		{"account/sessionInvalidated", "", `{"reason":"refreshFailed","message":"log in again"}`},
	}
	for _, tt := range tests {
		got, err := h.ed.WaitFor(ctx, tt.method, func(p json.RawMessage) bool { return strings.Contains(string(p), tt.match) })
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		if diff := cmp.Diff(tt.want, string(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.method, diff)
		}
	}
}

func TestShowDocument(t *testing.T) {
	t.Run("supported", func(t *testing.T) {
		h := start(t, newFakeService(), nil)
		ctx := t.Context()
		got := make(chan json.RawMessage, 1)
		h.ed.Handle("window/showDocument", func(p json.RawMessage) (any, error) {
			got <- p
			return map[string]bool{"success": true}, nil
		})
		h.initialize(t, ctx, map[string]any{"window": map[string]any{"showDocument": map[string]bool{"support": true}}})
		ok, err := h.srv.ShowDocument(ctx, "https://auth.example/authorize?x=1")
		if err != nil || !ok {
			t.Fatalf("ShowDocument: got %v, %v; want true, nil", ok, err)
		}
		if diff := cmp.Diff(`{"uri":"https://auth.example/authorize?x=1","external":true}`, string(<-got)); diff != "" {
			t.Errorf("params (-want +got):\n%s", diff)
		}
	})
	t.Run("client error", func(t *testing.T) {
		h := start(t, newFakeService(), nil)
		ctx := t.Context()
		h.ed.Handle("window/showDocument", func(json.RawMessage) (any, error) {
			return nil, &editortest.Error{Code: -32603, Message: "no browser"}
		})
		h.initialize(t, ctx, map[string]any{"window": map[string]any{"showDocument": map[string]bool{"support": true}}})
		if ok, err := h.srv.ShowDocument(ctx, "https://auth.example/"); err == nil || ok {
			t.Fatalf("ShowDocument: got %v, %v; want false and an error", ok, err)
		}
	})
	t.Run("not advertised", func(t *testing.T) {
		h := start(t, newFakeService(), nil)
		ctx := t.Context()
		h.initialize(t, ctx, nil)
		ok, err := h.srv.ShowDocument(ctx, "https://auth.example/")
		if err != nil || ok {
			t.Fatalf("ShowDocument: got %v, %v; want false, nil", ok, err)
		}
		// Nothing was sent: a round trip later, still no request.
		if err := h.ed.Call(ctx, "account/read", nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, m := range h.ed.Messages() {
			if m.Method == "window/showDocument" {
				t.Errorf("window/showDocument sent without the capability")
			}
		}
	})
}

// Errors from the service map to their documented codes.
func TestServiceErrors(t *testing.T) {
	tests := []struct {
		err  error
		code int64
	}{
		{session.ErrNotLoggedIn, -32010},
		{&session.PolicyError{Message: "API key login is disabled. Use ChatGPT login instead."}, -32011},
		{session.ErrIssuerUnavailable, -32012},
		{fmt.Errorf("%w: %w: refresh: HTTP 307", session.ErrIssuerUnavailable, session.ErrIssuerRedirect), -32012},
		{session.ErrUnsupportedRecord, -32014},
		{session.ErrSessionExpired, -32017},
		{session.ErrLoginFailed, -32020},
		{fmt.Errorf("keyring: %w", store.ErrUnavailable), -32013},
		{store.ErrTooLarge, -32013},
		{&store.CorruptError{Path: "/h/auth.json", Reason: "truncated JSON at byte 3"}, -32015},
		{session.ErrLoginTypeUnsupported, -32016},
		{session.ErrDeviceCodeDisabled, -32018},
		{&session.InputError{Field: "apiKey", Reason: "must not be empty"}, -32602},
		{session.ErrInvalidInput, -32602},
		{&session.IssuerError{Status: 401}, -32017},
		{&session.IssuerError{Status: 400, Code: "invalid_request"}, -32012},
		{context.Canceled, -32800},
		{errUnknown{}, -32603},
	}
	for _, tt := range tests {
		svc := newFakeService()
		svc.logoutErr = tt.err
		h := start(t, svc, nil)
		h.initialize(t, t.Context(), nil)
		je := wantCode(t, tt.err.Error(), h.ed.Call(t.Context(), "account/logout", nil, nil), tt.code)
		if tt.code == -32603 && je.Message != "internal error" {
			t.Errorf("unknown error message: got %q, want %q", je.Message, "internal error")
		}
		if errors.Is(tt.err, session.ErrIssuerRedirect) && !strings.Contains(je.Message, "redirect") {
			t.Errorf("redirect message: got %q, want one that says the issuer redirected", je.Message)
		}
		if tt.code == -32011 && je.Message != tt.err.Error() {
			t.Errorf("policy message: got %q, want Codex's wording %q", je.Message, tt.err.Error())
		}
	}
}

type errUnknown struct{}

func (errUnknown) Error() string { return "some detail" }
