// policy_test.go: table tests for the managed policy checks.

package session

import (
	"testing"

	"github.com/codex-auth/codex-auth/store"
)

func TestPolicy(t *testing.T) {
	key := "sk-proj-abcdefghijklmnopqrstuvwxyz"
	chatgpt := func(ws string) *store.Record {
		return &store.Record{AuthMode: "chatgpt", Tokens: &store.Tokens{IDToken: testIDToken(testUser{Email: "a@b.c", Workspace: ws})}}
	}
	tests := []struct {
		name   string
		policy Policy
		rec    *store.Record
		login  string // also check CheckLogin(login) when set
		want   string // "" = allowed
	}{
		{"no policy, api key", Policy{}, store.NewAPIKeyRecord(key), LoginMethodAPI, ""},
		{"no policy, chatgpt", Policy{}, chatgpt("ws-1"), LoginMethodChatGPT, ""},
		{"chatgpt forced, api key", Policy{ForcedLoginMethod: "chatgpt"}, store.NewAPIKeyRecord(key), LoginMethodAPI,
			"API key login is disabled. Use ChatGPT login instead."},
		{"api forced, chatgpt", Policy{ForcedLoginMethod: "api"}, chatgpt("ws-1"), LoginMethodChatGPT,
			"ChatGPT login is disabled. Use API key login instead."},
		{"chatgpt forced, chatgpt", Policy{ForcedLoginMethod: "chatgpt"}, chatgpt("ws-1"), LoginMethodChatGPT, ""},
		{"workspace allowed", Policy{ForcedWorkspaceIDs: []string{"ws-0", "ws-1"}}, chatgpt("ws-1"), "", ""},
		{"workspace refused", Policy{ForcedWorkspaceIDs: []string{"ws-0", "ws-2"}}, chatgpt("ws-1"), "",
			"Login is restricted to workspace(s) ws-0, ws-2, but current credentials belong to ws-1."},
		{"workspace missing", Policy{ForcedWorkspaceIDs: []string{"ws-0"}}, chatgpt(""), "",
			"Login is restricted to workspace(s) ws-0, but current credentials lack a workspace identifier."},
		{"workspace policy, api key", Policy{ForcedWorkspaceIDs: []string{"ws-0"}}, store.NewAPIKeyRecord(key), "", ""},
		{"logged out", Policy{ForcedLoginMethod: "api", ForcedWorkspaceIDs: []string{"x"}}, nil, "", ""},
		{"unsupported mode", Policy{ForcedLoginMethod: "api"}, &store.Record{AuthMode: "agentIdentity"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := tc.policy.CheckRecord(tc.rec); err != nil {
				got = err.(*PolicyError).Message
			}
			if got != tc.want {
				t.Errorf("CheckRecord = %q, want %q", got, tc.want)
			}
			if tc.login == "" {
				return
			}
			got = ""
			if err := tc.policy.CheckLogin(tc.login); err != nil {
				got = err.(*PolicyError).Message
			}
			if got != tc.want {
				t.Errorf("CheckLogin(%s) = %q, want %q", tc.login, got, tc.want)
			}
		})
	}
}
