package rpc_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
)

func frame(body string) string {
	return "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// reply is what a test expects of an error reply.
type reply struct {
	ID   string // raw JSON id
	Code int64
	// Msg is a substring of the message.
	Msg string
}

func TestBadInput(t *testing.T) {
	const capBytes = 1024
	big := `{"jsonrpc":"2.0","id":7,"method":"account/read","params":{"pad":"` + strings.Repeat("x", 2*capBytes) + `"}}`
	tests := []struct {
		name string
		raw  string
		// want are the replies before the follow-up request's; none for a
		// logged drop.
		want []reply
		// log is a substring the server must have logged.
		log string
	}{
		{name: "header line without colon", raw: "Content-Length 12\r\n\r\n{\"a\":\"b\"}", log: "line without a colon"},
		{name: "header line too long", raw: strings.Repeat("X", 5000) + "\r\n\r\n", log: "line too long"},
		{name: "missing Content-Length", raw: "Content-Type: application/json\r\n\r\n{}", log: "no Content-Length"},
		{name: "negative Content-Length", raw: "Content-Length: -5\r\n\r\n{}", log: "not a non-negative integer"},
		{name: "non-numeric Content-Length", raw: "Content-Length: twelve\r\n\r\n{\"jsonrpc\":\"2.0\"}", log: "not a non-negative integer"},
		{name: "Content-Length over int64", raw: "Content-Length: 99999999999999999999\r\n\r\n{}", log: "not a non-negative integer"},
		{name: "length over the cap", raw: frame(big), want: []reply{{ID: "null", Code: -32600, Msg: "exceeds the limit of 1024 bytes"}}, log: "over the size limit"},
		{name: "empty body", raw: frame(""), want: []reply{{ID: "null", Code: -32700}}},
		{name: "not JSON", raw: frame("hello, server"), want: []reply{{ID: "null", Code: -32700, Msg: "not valid JSON"}}},
		{name: "truncated JSON", raw: frame(`{"jsonrpc":"2.0","id":1,`), want: []reply{{ID: "null", Code: -32700}}},
		{name: "JSON number", raw: frame(`42`), want: []reply{{ID: "null", Code: -32600, Msg: "must be a JSON object"}}},
		{name: "JSON string", raw: frame(`"account/read"`), want: []reply{{ID: "null", Code: -32600}}},
		{name: "JSON null", raw: frame(`null`), want: []reply{{ID: "null", Code: -32600}}},
		{name: "batch", raw: frame(`[{"jsonrpc":"2.0","id":1,"method":"account/read"}]`), want: []reply{{ID: "null", Code: -32600, Msg: "batches"}}},
		{name: "empty batch", raw: frame(`[]`), want: []reply{{ID: "null", Code: -32600, Msg: "batches"}}},
		{name: "missing jsonrpc", raw: frame(`{"id":1,"method":"account/read"}`), want: []reply{{ID: "1", Code: -32600, Msg: "jsonrpc"}}},
		{name: "wrong jsonrpc", raw: frame(`{"jsonrpc":"1.0","id":"a","method":"account/read"}`), want: []reply{{ID: `"a"`, Code: -32600, Msg: "jsonrpc"}}},
		{name: "missing method", raw: frame(`{"jsonrpc":"2.0","id":1}`), want: []reply{{ID: "1", Code: -32600, Msg: "method is missing"}}},
		{name: "method number", raw: frame(`{"jsonrpc":"2.0","id":1,"method":5}`), want: []reply{{ID: "1", Code: -32600, Msg: "method must be"}}},
		{name: "method empty", raw: frame(`{"jsonrpc":"2.0","id":1,"method":""}`), want: []reply{{ID: "1", Code: -32600, Msg: "method must be"}}},
		{name: "notification with method number", raw: frame(`{"jsonrpc":"2.0","method":["x"]}`), want: []reply{{ID: "null", Code: -32600, Msg: "method must be"}}},
		{name: "id object", raw: frame(`{"jsonrpc":"2.0","id":{},"method":"account/read"}`), want: []reply{{ID: "null", Code: -32600, Msg: "id must be"}}},
		{name: "id bool", raw: frame(`{"jsonrpc":"2.0","id":true,"method":"account/read"}`), want: []reply{{ID: "null", Code: -32600, Msg: "id must be"}}},
		{name: "id null", raw: frame(`{"jsonrpc":"2.0","id":null,"method":"account/read"}`), want: []reply{{ID: "null", Code: -32600, Msg: "id must be"}}},
		{name: "id fraction", raw: frame(`{"jsonrpc":"2.0","id":1.5,"method":"account/read"}`), want: []reply{{ID: "null", Code: -32600, Msg: "id must be"}}},
		{name: "id over int32", raw: frame(`{"jsonrpc":"2.0","id":4294967296,"method":"account/read"}`), want: []reply{{ID: "null", Code: -32600, Msg: "id must be"}}},
		{name: "id empty string", raw: frame(`{"jsonrpc":"2.0","id":"","method":"account/read"}`), want: []reply{{ID: "null", Code: -32600, Msg: "id must be"}}},
		{name: "params string", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/read","params":"x"}`), want: []reply{{ID: "1", Code: -32600, Msg: "params must be an object or an array"}}},
		{name: "params number", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/read","params":3}`), want: []reply{{ID: "1", Code: -32600, Msg: "params must be"}}},
		{name: "params array", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/read","params":[true]}`), want: []reply{{ID: "1", Code: -32602, Msg: "params must be an object"}}},
		// Neovim 0.7 encodes an empty Lua table as []: the same as {}.
		{name: "params empty array", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/read","params":[]}`), want: []reply{{ID: "1"}}},
		{name: "params empty array with spaces", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/token","params":[ ]}`), want: []reply{{ID: "1"}}},
		{name: "params empty array for login/start", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":[]}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.type is required"}}},
		{name: "params array of null", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/read","params":[null]}`), want: []reply{{ID: "1", Code: -32602, Msg: "params must be an object"}}},
		{name: "params member wrong type", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/read","params":{"refreshToken":"yes"}}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.refreshToken must be a boolean"}}},
		{name: "login type wrong type", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":{"type":5}}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.type must be a string"}}},
		{name: "login type missing", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":{}}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.type is required"}}},
		{name: "login params absent", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start"}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.type is required"}}},
		{name: "login apiKey missing", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":{"type":"apiKey"}}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.apiKey is required"}}},
		{name: "login apiKey empty", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":{"type":"apiKey","apiKey":""}}`), want: []reply{{ID: "1", Code: -32602, Msg: "apiKey: must not be empty"}}},
		{name: "login unknown type", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":{"type":"password"}}`), want: []reply{{ID: "1", Code: -32016, Msg: "unknown login type"}}},
		{name: "cancel loginId missing", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/login/cancel","params":null}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.loginId is required"}}},
		{name: "token refresh wrong type", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"account/token","params":{"refresh":1}}`), want: []reply{{ID: "1", Code: -32602, Msg: "params.refresh must be a boolean"}}},
		{name: "unknown method", raw: frame(`{"jsonrpc":"2.0","id":"u","method":"account/frobnicate"}`), want: []reply{{ID: `"u"`, Code: -32601, Msg: "account/frobnicate"}}},
		{name: "unknown notification", raw: frame(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{}}`), log: "unknown notification ignored"},
		{name: "unknown $/ notification", raw: frame(`{"jsonrpc":"2.0","method":"$/setTrace","params":{"value":"off"}}`)},
		{name: "response to an id never sent", raw: frame(`{"jsonrpc":"2.0","id":99,"result":{}}`), log: "response to an id we never sent"},
		{name: "response without id", raw: frame(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`), log: "response without a usable id"},
		{name: "initialize twice", raw: frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`), want: []reply{{ID: "1", Code: -32600, Msg: "already"}}},
		{name: "two bad frames back to back", raw: frame(`nope`) + frame(`[1]`), want: []reply{{ID: "null", Code: -32700}, {ID: "null", Code: -32600}}},
		{name: "blank lines between frames", raw: "\r\n\r\n"},
		{name: "extra headers are fine", raw: "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(`{"jsonrpc":"2.0","id":3,"method":"account/login/cancel","params":{"loginId":"x"}}`), want: []reply{{ID: "3"}}},
		{name: "lower-case header name", raw: strings.Replace(frame(`{"jsonrpc":"2.0","id":3,"method":"account/login/cancel","params":{"loginId":"x"}}`), "Content-Length", "content-length", 1), want: []reply{{ID: "3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			h := start(t, newFakeService(), func(o *rpc.Options) { o.MaxMessageBytes = capBytes })
			h.initialize(t, ctx, nil)
			before := len(h.ed.Messages())
			if err := h.ed.WriteRaw([]byte(tt.raw)); err != nil {
				t.Fatal(err)
			}
			// The server keeps serving: a good request right after.
			var got rpc.AccountReadResult
			if err := h.ed.CallID(ctx, "next", "account/read", nil, &got); err != nil {
				t.Fatalf("follow-up account/read: %v", err)
			}
			if got.Account == nil || got.Account.Type != "apiKey" {
				t.Errorf("follow-up account/read: got %+v", got)
			}
			// Replies come concurrently: wait for as many as expected.
			others := func() []editortest.Message {
				var out []editortest.Message
				for _, m := range h.ed.Messages()[before:] {
					if string(m.ID) != `"next"` && !m.IsNotification() {
						out = append(out, m)
					}
				}
				return out
			}
			if _, err := h.ed.WaitMessage(ctx, func(editortest.Message) bool { return len(others()) >= len(tt.want) }); err != nil {
				t.Fatalf("waiting for %d replies: %v", len(tt.want), err)
			}
			var replies []reply
			for i, m := range others() {
				r := reply{ID: string(m.ID)}
				if m.Error != nil {
					r.Code = m.Error.Code
					r.Msg = m.Error.Message
					if i < len(tt.want) && strings.Contains(m.Error.Message, tt.want[i].Msg) {
						r.Msg = tt.want[i].Msg
					}
				}
				replies = append(replies, r)
			}
			if diff := cmp.Diff(tt.want, replies); diff != "" {
				t.Errorf("replies before the follow-up (-want +got):\n%s", diff)
			}
			if tt.log != "" && !strings.Contains(h.logs.text(), tt.log) {
				t.Errorf("log: got\n%s\nwant a line containing %q", h.logs.text(), tt.log)
			}
		})
	}
}

// TestParseIDNull checks that a JSON null id is not taken for a
// notification (encoding/json hands RawMessage the literal null).
func TestParseIDNull(t *testing.T) {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal([]byte(`{"id":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if got, want := string(v.ID), "null"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
