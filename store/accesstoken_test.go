package store

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewPersonalAccessTokenRecordIsCodexs(t *testing.T) {
	// testdata/golden/personal_access_token.json is the auth.json that
	// `codex login --with-access-token` (0.171.0) wrote for this token.
	want, err := os.ReadFile("testdata/golden/personal_access_token.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewPersonalAccessTokenRecord("at-abcdefghijklmnop1234567890").MarshalPretty()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("auth.json (-codex +ours):\n%s", diff)
	}
}

func TestNewAgentIdentityRecordShape(t *testing.T) {
	got, err := NewAgentIdentityRecord("h.p.s").MarshalCompact()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"h.p.s"}`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAccessTokenModes(t *testing.T) {
	tests := []struct {
		name, json string
		mode       AuthMode
		supported  bool
	}{
		// Measured with Codex 0.171: the token wins over a key...
		{"token and key", `{"OPENAI_API_KEY":"sk-1","personal_access_token":"at-1"}`, AuthModePersonalAccessToken, true},
		// ...and an explicit auth_mode wins over the token.
		{"chatgpt mode", `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"personal_access_token":"at-1"}`, AuthModeChatGPT, false},
		{"explicit mode", `{"auth_mode":"personalAccessToken","OPENAI_API_KEY":null,"personal_access_token":"at-1"}`, AuthModePersonalAccessToken, true},
		{"null token", `{"OPENAI_API_KEY":null,"personal_access_token":null}`, AuthModeChatGPT, false},
		{"empty token", `{"OPENAI_API_KEY":null,"personal_access_token":""}`, AuthModePersonalAccessToken, false},
		{"agent", `{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"a.b.c"}`, AuthModeAgentIdentity, true},
		{"agent object (older Codex)", `{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":{"id":"x"}}`, AuthModeAgentIdentity, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecord([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.EffectiveMode(); got != tt.mode {
				t.Errorf("EffectiveMode = %q, want %q", got, tt.mode)
			}
			if got := r.Supported(); got != tt.supported {
				t.Errorf("Supported = %v, want %v", got, tt.supported)
			}
		})
	}
}

func TestParseAgentIdentity(t *testing.T) {
	data, err := os.ReadFile("testdata/golden/agent_identity.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	jwt, ok := r.AgentIdentity()
	if !ok {
		t.Fatal("no agent_identity")
	}
	got, err := ParseAgentIdentity(jwt)
	if err != nil {
		t.Fatal(err)
	}
	want := AgentClaims{RuntimeID: "rt-1", AccountID: "ws-agent", UserID: "user-agent", Email: "agent@example.com", PlanType: "enterprise", Expires: time.Unix(4102444800, 0).UTC()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if _, err := ParseAgentIdentity("not-a-jwt"); err == nil {
		t.Error("ParseAgentIdentity(not-a-jwt) succeeded")
	}
}

func TestUpdateKeepsCodexFields(t *testing.T) {
	// A read-modify-write (a refresh) of a ChatGPT record Codex 0.171
	// wrote keeps tokens.oauth_provenance and tokens.login_owner_id.
	data, err := os.ReadFile("testdata/golden/chatgpt_codex171.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/auth.json", data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Home{Dir: dir}, Options{Mode: ModeFile})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(t.Context(), func(cur *Record) (*Record, error) {
		cur.Tokens.AccessToken = "new-access"
		cur.Tokens.RefreshToken = "rt-2"
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(dir + "/auth.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(after)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range r.Tokens.Extra {
		var c bytes.Buffer
		if err := json.Compact(&c, f.Value); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, f.Key+"="+c.String())
	}
	want := []string{`oauth_provenance={"issuer":"https://auth.openai.com","client_id":"app_EMoamEEZ73f0CkXaXp7hrann"}`, `login_owner_id="user-123"`}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("tokens extra fields after Update (-want +got):\n%s", diff)
	}
}
