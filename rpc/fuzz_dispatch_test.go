package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
)

// documentedCodes are the error codes docs/protocol.md lists (JSON-RPC's,
// LSP's and ours).
var documentedCodes = map[int64]bool{
	-32700: true, -32600: true, -32601: true, -32602: true, -32800: true, -32002: true,
	-32010: true, -32011: true, -32012: true, -32013: true, -32014: true, -32015: true,
	-32016: true, -32017: true, -32018: true, -32019: true, -32020: true, -32021: true,
}

// FuzzDispatch sends one request with an arbitrary method and params to
// an initialized server and checks the dispatcher: an answer always comes
// (a result or an error, never silence or a dropped connection); an error
// has a documented code (never -32603: every failure the service can give
// maps to a code of its own); no answer but account/token's carries a
// secret; and the server keeps serving afterwards.
func FuzzDispatch(f *testing.F) {
	for _, s := range []struct{ method, params string }{
		{"account/read", `{}`},
		{"account/read", `{"refreshToken":true}`},
		{"account/read", `{"refreshToken":"yes"}`},
		{"account/read", `[1]`},
		{"account/login/start", `{"type":"apiKey","apiKey":"sk-x"}`},
		{"account/login/start", `{"type":"chatgpt"}`},
		{"account/login/start", `{"type":"accessToken","accessToken":"nope"}`},
		{"account/login/start", `{"type":"frobnicate"}`},
		{"account/login/cancel", `{"loginId":"x"}`},
		{"account/logout", `null`},
		{"account/token", `{"refreshToken":true}`},
		{"accountSession/list", `{}`},
		{"accountSession/switch", `{"sessionId":"a@b.c"}`},
		{"initialize", `{}`},
		{"$/cancelRequest", `{"id":1}`},
		{"nope/nope", `{"a":[{"b":{}}]}`},
	} {
		f.Add(s.method, []byte(s.params))
	}
	f.Fuzz(func(t *testing.T, method string, params []byte) {
		if !json.Valid(params) || method == "exit" || method == "shutdown" {
			return // framing and parse errors: FuzzStream; the lifecycle: lifecycle_test.go
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := start(t, newFakeService(), nil)
		h.initialize(t, ctx, nil)
		var result json.RawMessage
		err := h.ed.Call(ctx, method, json.RawMessage(params), &result)
		var je *editortest.Error
		switch {
		case errors.As(err, &je):
			if !documentedCodes[je.Code] {
				t.Fatalf("%s: error code %d (%s) is not one docs/protocol.md lists", method, je.Code, je.Message)
			}
		case err != nil:
			t.Fatalf("%s: no answer: %v", method, err)
		}
		if method != "account/token" {
			for _, s := range fakeSecrets {
				if bytes.Contains(result, []byte(s)) || je != nil && bytes.Contains([]byte(je.Message), []byte(s)) {
					t.Fatalf("%s: the answer carries a secret", method)
				}
			}
		}
		if err := h.ed.Call(ctx, "account/read", nil, nil); err != nil {
			t.Fatalf("after %s, account/read: %v", method, err)
		}
	})
}
