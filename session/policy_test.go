package session

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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
		login  LoginMethod // also check CheckLogin(login) when set
		want   string      // "" = allowed
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

// TestWorkspaceSwitch: after Codex's workspace switch (tokens.account_id
// and the access token rewritten, the old ID token kept; measured with
// 0.171) account/read, account/token and the policy all see
// tokens.account_id, not the ID token's claim.
func TestWorkspaceSwitch(t *testing.T) {
	switched := "ws-2"
	rec := &store.Record{AuthMode: store.AuthModeChatGPT, Tokens: &store.Tokens{
		IDToken:      testIDToken(testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"}),
		AccessToken:  testAccessToken(1, time.Now().Add(time.Hour)),
		RefreshToken: "rt-1",
		AccountID:    &switched,
	}}
	e := newTestEnv(t, func(o *Options) {
		o.Store = &memStore{rec: rec.Clone()}
		o.Config = store.Config{ForcedWorkspaceIDs: []string{"ws-2"}}
	})
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Problem != "" || st.Account == nil || st.Account.WorkspaceID != "ws-2" {
		t.Fatalf("account/read: got problem %q, account %+v; want workspace ws-2, no problem", st.Problem, st.Account)
	}
	tok, err := e.m.Token(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccountID != "ws-2" {
		t.Errorf("account/token accountId: got %q, want ws-2", tok.AccountID)
	}
	err = Policy{ForcedWorkspaceIDs: []string{"ws-1"}}.CheckRecord(rec)
	const want = "Login is restricted to workspace(s) ws-1, but current credentials belong to ws-2."
	if pe, ok := err.(*PolicyError); !ok || pe.Message != want {
		t.Errorf("CheckRecord with ws-1 forced: got %v, want %q", err, want)
	}
}

// TestLoginMethodsOfConfig: store validates forced_login_method (it may
// not import session), so the values it accepts must be session's
// LoginMethod constants.
func TestLoginMethodsOfConfig(t *testing.T) {
	for _, m := range []LoginMethod{LoginMethodChatGPT, LoginMethodAPI} {
		sys := t.TempDir()
		if err := os.WriteFile(filepath.Join(sys, "managed_config.toml"), []byte(`forced_login_method = "`+string(m)+`"`), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := store.LoadConfig(store.Home{Dir: t.TempDir()}, sys)
		if err != nil {
			t.Fatalf("forced_login_method %q: %v", m, err)
		}
		if got := PolicyOf(cfg).ForcedLoginMethod; got != m {
			t.Errorf("PolicyOf(forced_login_method %q).ForcedLoginMethod = %q", m, got)
		}
	}
}
