package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
)

// chatgptAuth is auth.json for a ChatGPT login as dev@example.com whose
// access token is good for a day (no refresh needed to switch to it).
func chatgptAuth() string {
	id := unsignedJWT(`{"email":"dev@example.com","https://api.openai.com/auth":{"chatgpt_plan_type":"pro","chatgpt_user_id":"user-dev","chatgpt_account_id":"ws-9"}}`)
	access := unsignedJWT(fmt.Sprintf(`{"exp":%d}`, time.Now().Add(24*time.Hour).Unix()))
	return `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"` + id + `","access_token":"` + access + `","refresh_token":"rt-cli-secret","account_id":"ws-9"}}`
}

func accountsJSON(t *testing.T, home string) rpc.AccountSessionList {
	t.Helper()
	res, out := ours(t, home, "", "accounts", "--json")
	if res.Code != 0 {
		t.Fatalf("accounts --json: %+v", res)
	}
	var l rpc.AccountSessionList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("accounts --json printed %q: %v", out, err)
	}
	return l
}

func TestAccountsSwitchLogoutCLI(t *testing.T) {
	home := tempHome(t)
	if err := os.WriteFile(filepath.Join(home, "auth.json"), []byte(chatgptAuth()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The ChatGPT login written by another program is saved when
	// codex-auth first looks.
	const key1, key2 = "sk-proj-cli-first-0123456789", "sk-proj-cli-second-0123456789"
	for _, k := range []string{key1, key2} {
		if res, _ := ours(t, home, k+"\n", "login", "--with-api-key"); res.Code != 0 {
			t.Fatalf("login --with-api-key: %+v", res)
		}
	}
	l := accountsJSON(t, home)
	var kinds []string
	for _, s := range l.Sessions {
		kinds = append(kinds, s.Type+" "+s.Email+s.APIKeyHint)
	}
	want := []string{"apiKey sk-proj-***56789", "apiKey sk-proj-***56789", "chatgpt dev@example.com"}
	if diff := cmp.Diff(want, kinds); diff != "" || l.ActiveSessionID == nil || *l.ActiveSessionID != l.Sessions[0].SessionID {
		t.Fatalf("accounts --json after a ChatGPT record and two keys (-want +got):\n%s\nactive %v", diff, l.ActiveSessionID)
	}
	second, first := l.Sessions[0].SessionID, l.Sessions[1].SessionID

	res, out := ours(t, home, "", "accounts")
	if res.Code != 0 || !strings.Contains(out, "* ") || !strings.Contains(out, "dev@example.com") || strings.Contains(out, "sk-proj-cli") {
		t.Errorf("accounts: %+v\n%s", res, out)
	}

	res, _ = ours(t, home, "", "switch", "DEV@example.com")
	if diff := cmp.Diff(result{Lines: []string{"Switched to dev@example.com (ChatGPT, pro, workspace ws-9)"}}, res); diff != "" {
		t.Errorf("switch by email (-want +got):\n%s", diff)
	}
	if res, _ := ours(t, home, "", "login", "status"); res.Code != 0 || res.Lines[0] != "Logged in using ChatGPT" {
		t.Errorf("login status after the switch: %+v", res)
	}
	res, _ = ours(t, home, "", "switch", first)
	if res.Code != 0 || !strings.Contains(res.Lines[0], "sk-proj-***56789") {
		t.Errorf("switch by id: %+v", res)
	}
	if res, _ := ours(t, home, "", "login", "status"); res.Code != 0 || res.Lines[0] != "API key configured - sk-proj-***56789" {
		t.Errorf("login status after switching to the first key: %+v", res)
	}
	data, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil || !strings.Contains(string(data), key1) {
		t.Errorf("auth.json after switching to the first key does not hold it (%v)", err)
	}

	if res, _ := ours(t, home, "", "switch", "nobody@example.com"); res.Code != 1 || !strings.Contains(strings.Join(res.Lines, "\n"), "no saved account has that session id or email") {
		t.Errorf("switch to an unknown account: %+v", res)
	}
	if res, _ := ours(t, home, "", "switch"); res.Code != 2 {
		t.Errorf("switch without an account, not on a terminal: %+v, want exit 2", res)
	}
	if res, _ := ours(t, home, "", "switch", "a", "b"); res.Code != 2 {
		t.Errorf("switch with two accounts: %+v, want exit 2", res)
	}

	res, _ = ours(t, home, "", "logout", "--account", second)
	if diff := cmp.Diff(result{Lines: []string{"Successfully logged out"}}, res); diff != "" {
		t.Errorf("logout --account (-want +got):\n%s", diff)
	}
	l = accountsJSON(t, home)
	if len(l.Sessions) != 2 || l.ActiveSessionID == nil || *l.ActiveSessionID != first {
		t.Errorf("after logging the second key out: %d saved, active %v; want 2, the first key active", len(l.Sessions), l.ActiveSessionID)
	}
	if res, _ := ours(t, home, "", "logout", "--account", "nobody"); res.Code != 1 {
		t.Errorf("logout --account of an unknown account: %+v, want exit 1", res)
	}
	// A plain logout logs out the active account and removes its copy.
	if res, _ := ours(t, home, "", "logout"); res.Code != 0 {
		t.Fatalf("logout: %+v", res)
	}
	if l = accountsJSON(t, home); len(l.Sessions) != 1 || l.Sessions[0].Type != "chatgpt" || l.ActiveSessionID != nil {
		t.Errorf("after logout: %+v, want the ChatGPT account only, none active", l)
	}
}

func TestPickAccount(t *testing.T) {
	l := session.AccountList{ActiveID: "id-1", Accounts: []session.SavedAccount{
		{SessionID: "id-1", Type: session.AccountChatGPT, Email: "a@example.com"},
		{SessionID: "id-2", Type: session.AccountAPIKey, APIKeyHint: "sk-proj-***vwxyz", NeedsLogin: true},
	}}
	for _, tt := range []struct {
		in   string
		id   string
		code int
	}{
		{"2\n", "id-2", 0},
		{" 1 \n", "id-1", 0},
		{"3\n", "", 2},
		{"two\n", "", 2},
		{"", "", 1},
	} {
		var out strings.Builder
		id, code := pickAccount(strings.NewReader(tt.in), &out, l)
		if id != tt.id || code != tt.code {
			t.Errorf("pick %q = (%q, %d), want (%q, %d); shown:\n%s", tt.in, id, code, tt.id, tt.code, out.String())
		}
		if !strings.Contains(out.String(), "*1)") || !strings.Contains(out.String(), " 2)") || !strings.Contains(out.String(), "needs a new sign-in") {
			t.Errorf("the pick shows:\n%s", out.String())
		}
	}
	if id, code := pickAccount(strings.NewReader("1\n"), &strings.Builder{}, session.AccountList{}); id != "" || code != 1 {
		t.Errorf("pick from none = (%q, %d)", id, code)
	}
}
