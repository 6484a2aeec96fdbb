package localissuer

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWhoami(t *testing.T) {
	e := newEnv(t, Config{Users: []User{{Email: "ada@example.com", PlanType: "business", WorkspaceID: "ws-ada", UserID: "user-ada"}, {Email: "bob@example.com"}}})
	call := func(auth string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.base+PathWhoami, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	code, body := call("Bearer at-abcdefgh12345678")
	want := map[string]any{"email": "ada@example.com", "chatgpt_user_id": "user-ada", "chatgpt_account_id": "ws-ada", "chatgpt_plan_type": "business", "chatgpt_account_is_fedramp": false}
	if code != 200 || !cmp.Equal(want, body) {
		t.Errorf("whoami = %d %v, want 200 %v", code, body, want)
	}
	for _, bad := range []string{"", "Bearer ", "Bearer at-short", "Bearer sk-abcdefgh12345678", "Basic at-abcdefgh12345678", "Bearer at-abc def 12345678"} {
		if code, _ := call(bad); code != http.StatusUnauthorized {
			t.Errorf("whoami with %q = %d, want 401", bad, code)
		}
	}
	if err := e.s.SetNextUser("bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, body := call("Bearer at-abcdefgh12345678"); body["email"] != "bob@example.com" {
		t.Errorf("after SetNextUser, email = %v", body["email"])
	}
	e.s.RevokeAccessToken("at-abcdefgh12345678")
	if code, _ := call("Bearer at-abcdefgh12345678"); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", code)
	}
	if got := e.s.Stats().WhoamiCalls; got != 9 {
		t.Errorf("whoami_calls = %d, want 9", got)
	}
}
