package rpc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
)

func TestSecretsStayInTokenReplies(t *testing.T) {
	svc := newFakeService()
	h := start(t, svc, func(o *rpc.Options) { o.MaxMessageBytes = 512 })
	ctx := t.Context()
	h.initialize(t, ctx, nil)

	// A login carrying a secret, then status and tokens of both kinds.
	if err := h.ed.Call(ctx, "account/login/start", map[string]string{"type": "apiKey", "apiKey": fakeLoginKey}, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.ed.Call(ctx, "account/read", nil, nil); err != nil {
		t.Fatal(err)
	}
	var tok rpc.TokenAPIKeyResult
	if err := h.ed.CallID(ctx, "token-1", "account/token", nil, &tok); err != nil || tok.APIKey != fakeAPIKey {
		t.Fatalf("account/token: got %+v, %v", tok, err)
	}
	svc.mu.Lock()
	svc.tokenType = "chatgpt"
	svc.mu.Unlock()
	var tok2 rpc.TokenChatGPTResult
	if err := h.ed.CallID(ctx, "token-2", "account/token", map[string]bool{"refresh": true}, &tok2); err != nil || tok2.AccessToken != fakeAccessToken {
		t.Fatalf("account/token: got %+v, %v", tok2, err)
	}

	// Bad input carrying secrets must not be echoed or logged.
	bad := []string{
		frame("not json " + fakeLoginKey),
		frame(`{"jsonrpc":"1.0","id":1,"method":"account/login/start","params":{"type":"apiKey","apiKey":"` + fakeLoginKey + `"}}`),
		frame(`{"jsonrpc":"2.0","id":2,"method":"account/login/start","params":{"type":"apiKey","apiKey":"` + fakeLoginKey + `","pad":"` + strings.Repeat("x", 600) + `"}}`),
		frame(`{"jsonrpc":"2.0","id":3,"method":"account/login/start","params":{"type":"` + fakeLoginKey + `"}}`),
		frame(`{"jsonrpc":"2.0","id":4,"method":"account/login/start","params":{"type":"apiKey","apiKey":["` + fakeLoginKey + `"]}}`),
		"Content-Length: " + fakeLoginKey + "\r\n\r\n",
		frame(`{"jsonrpc":"2.0","id":5,"method":"account/read","params":{"refreshToken":"` + fakeLoginKey + `"}}`),
	}
	for _, b := range bad {
		if err := h.ed.WriteRaw([]byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.ed.CallID(ctx, "last", "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ed.WaitMessage(ctx, func(m editortest.Message) bool { return string(m.ID) == "5" }); err != nil {
		t.Fatal(err)
	}

	for _, m := range h.ed.Messages() {
		if string(m.ID) == `"token-1"` || string(m.ID) == `"token-2"` {
			continue
		}
		b, _ := json.Marshal(m)
		for _, s := range fakeSecrets {
			if strings.Contains(string(b), s) {
				t.Errorf("a frame other than an account/token reply holds a secret: %s", b)
			}
		}
	}
	logs := h.logs.text()
	for _, s := range fakeSecrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret:\n%s", logs)
		}
	}
}
