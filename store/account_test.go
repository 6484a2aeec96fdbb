package store

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRecordAccount(t *testing.T) {
	ws := func(s string) *string { return &s }
	idToken := testJWT(`{"email":"a@b.c","https://api.openai.com/auth":{"chatgpt_plan_type":"plus","chatgpt_user_id":"u1","chatgpt_account_id":"ws-claim"}}`)
	access := testJWT(`{"exp":1700000000}`)
	agent := testJWT(`{"agent_runtime_id":"rt","account_id":"ws-agent","chatgpt_user_id":"u2","email":"x@y.z","plan_type":"pro","exp":1700000000}`)
	exp := time.Unix(1700000000, 0).UTC()
	chatgpt := func(id string, accountID *string) *Record {
		return &Record{AuthMode: AuthModeChatGPT, Tokens: &Tokens{IDToken: id, AccessToken: access, AccountID: accountID}}
	}
	tests := []struct {
		name    string
		rec     *Record
		want    Account
		wantErr bool
	}{
		{"api key", NewAPIKeyRecord("sk-proj-abcdefghijklmnopqrstuvwxyz"), Account{Mode: AuthModeAPIKey, APIKeyHint: "sk-proj-***vwxyz"}, false},
		// Codex's workspace switch rewrites tokens.account_id and keeps
		// the old ID token: tokens.account_id wins.
		{"chatgpt, account_id and claim differ", chatgpt(idToken, ws("ws-switched")),
			Account{Mode: AuthModeChatGPT, Email: "a@b.c", PlanType: "plus", UserID: "u1", WorkspaceID: "ws-switched", ExpiresAt: exp}, false},
		{"chatgpt, account_id null", chatgpt(idToken, nil),
			Account{Mode: AuthModeChatGPT, Email: "a@b.c", PlanType: "plus", UserID: "u1", WorkspaceID: "ws-claim", ExpiresAt: exp}, false},
		{"chatgpt, account_id empty", chatgpt(idToken, ws("")),
			Account{Mode: AuthModeChatGPT, Email: "a@b.c", PlanType: "plus", UserID: "u1", WorkspaceID: "ws-claim", ExpiresAt: exp}, false},
		{"chatgpt, unreadable ID token", chatgpt("not-a-jwt", ws("ws-t")),
			Account{Mode: AuthModeChatGPT, WorkspaceID: "ws-t", ExpiresAt: exp}, true},
		{"chatgpt, no tokens", &Record{AuthMode: AuthModeChatGPT}, Account{Mode: AuthModeChatGPT}, false},
		{"personal access token", NewPersonalAccessTokenRecord("at-secret"), Account{Mode: AuthModePersonalAccessToken}, false},
		{"agent identity", NewAgentIdentityRecord(agent),
			Account{Mode: AuthModeAgentIdentity, Email: "x@y.z", PlanType: "pro", UserID: "u2", WorkspaceID: "ws-agent", RuntimeID: "rt", ExpiresAt: exp}, false},
		{"agent identity, unreadable", NewAgentIdentityRecord("nope"), Account{Mode: AuthModeAgentIdentity}, true},
		{"unknown mode", &Record{AuthMode: "future"}, Account{Mode: "future"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rec.Account()
			if (got.ClaimsErr != nil) != tt.wantErr {
				t.Errorf("ClaimsErr = %v, want error: %v", got.ClaimsErr, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Account{}, "ClaimsErr")); diff != "" {
				t.Errorf("Account() (-want +got):\n%s", diff)
			}
		})
	}
}
