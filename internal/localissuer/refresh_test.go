package localissuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t, Config{})
	rt0 := str(e.login(), "refresh_token")

	st, m := e.refresh(rt0) // JSON, as Codex 0.171
	if st != http.StatusOK {
		t.Fatalf("refresh (JSON): %d %q", st, errCode(m))
	}
	rt1 := str(m, "refresh_token")
	if rt1 == "" || rt1 == rt0 || str(m, "id_token") == "" || str(m, "access_token") == "" {
		t.Fatalf("refresh did not rotate: new token empty=%v same=%v", rt1 == "", rt1 == rt0)
	}
	st, m = e.postForm("/oauth/token", url.Values{ // form, as a standard client
		"grant_type": {"refresh_token"}, "refresh_token": {rt1}, "client_id": {DefaultClientID},
	})
	if st != http.StatusOK {
		t.Fatalf("refresh (form): %d %q", st, errCode(m))
	}
	rt2 := str(m, "refresh_token")

	// Reusing rt0 is detected and kills the family, rt2 included.
	if st, m := e.refresh(rt0); st != http.StatusUnauthorized || errCode(m) != "refresh_token_reused" {
		t.Errorf("reuse: %d %q, want 401 refresh_token_reused", st, errCode(m))
	}
	if st, m := e.refresh(rt2); st != http.StatusUnauthorized || errCode(m) != "refresh_token_invalidated" {
		t.Errorf("newest after reuse: %d %q, want 401 refresh_token_invalidated", st, errCode(m))
	}
	// Another login is another family, untouched.
	other := str(e.login(), "refresh_token")
	if st, m := e.refresh(other); st != http.StatusOK {
		t.Errorf("other family: %d %q, want 200", st, errCode(m))
	}
	want := Stats{CodesIssued: 2, CodesRedeemed: 2, Refreshes: 3, ReuseDetections: 1, TokenErrors: 2}
	if d := cmp.Diff(want, e.s.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestRefreshErrors(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Now: clock.Now, RefreshTokenTTL: time.Hour})
	t.Run("unknown", func(t *testing.T) {
		if st, m := e.refresh("rt_local_nope"); st != 401 || errCode(m) != "refresh_token_invalidated" {
			t.Errorf("got %d %q, want 401 refresh_token_invalidated", st, errCode(m))
		}
	})
	t.Run("body shape Codex parses", func(t *testing.T) {
		_, m := e.refresh("rt_local_nope")
		obj, ok := m["error"].(map[string]any)
		if !ok || obj["message"] == "" {
			t.Errorf("error is %T, want an object with code and message", m["error"])
		}
	})
	t.Run("expired", func(t *testing.T) {
		rt := str(e.login(), "refresh_token")
		clock.Advance(time.Hour)
		if st, m := e.refresh(rt); st != 401 || errCode(m) != "refresh_token_expired" {
			t.Errorf("got %d %q, want 401 refresh_token_expired", st, errCode(m))
		}
	})
	t.Run("revoked family", func(t *testing.T) {
		rt := str(e.login(), "refresh_token")
		if err := e.s.RevokeFamily(rt); err != nil {
			t.Fatal(err)
		}
		if st, m := e.refresh(rt); st != 401 || errCode(m) != "refresh_token_invalidated" {
			t.Errorf("got %d %q, want 401 refresh_token_invalidated", st, errCode(m))
		}
	})
	t.Run("wrong client", func(t *testing.T) {
		rt := str(e.login(), "refresh_token")
		st, m := e.postJSON("/oauth/token", map[string]string{
			"grant_type": "refresh_token", "refresh_token": rt, "client_id": "app_other"})
		if st != 401 || errCode(m) != "invalid_client" {
			t.Errorf("got %d %q, want 401 invalid_client", st, errCode(m))
		}
	})
	t.Run("missing token", func(t *testing.T) {
		st, m := e.postJSON("/oauth/token", map[string]string{"grant_type": "refresh_token", "client_id": DefaultClientID})
		if st != 400 || errCode(m) != "invalid_request" {
			t.Errorf("got %d %q, want 400 invalid_request", st, errCode(m))
		}
	})
	t.Run("non-string JSON value", func(t *testing.T) {
		st, m := e.post("/oauth/token", "application/json", `{"grant_type":"refresh_token","client_id":"`+DefaultClientID+`","refresh_token":5}`)
		if st != 400 || errCode(m) != "invalid_request" {
			t.Errorf("got %d %q, want 400 invalid_request", st, errCode(m))
		}
	})
	t.Run("text/plain", func(t *testing.T) {
		st, m := e.post("/oauth/token", "text/plain", "grant_type=refresh_token")
		if st != 400 || errCode(m) != "invalid_request" {
			t.Errorf("got %d %q, want 400 invalid_request", st, errCode(m))
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp := e.get("/oauth/token")
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", resp.StatusCode)
		}
	})
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name       string
		send       func(tok string) (int, map[string]any)
		token      func(m map[string]any) string
		wantStatus int
		wantCount  int
		wantDead   bool
	}{
		{"refresh token, JSON (Codex logout)", func(tok string) (int, map[string]any) {
			return e.postJSON("/oauth/revoke", map[string]string{"token": tok, "token_type_hint": "refresh_token", "client_id": DefaultClientID})
		}, func(m map[string]any) string { return str(m, "refresh_token") }, 200, 1, true},
		{"refresh token, form", func(tok string) (int, map[string]any) {
			return e.postForm("/oauth/revoke", url.Values{"token": {tok}, "client_id": {DefaultClientID}})
		}, func(m map[string]any) string { return str(m, "refresh_token") }, 200, 1, true},
		{"access token", func(tok string) (int, map[string]any) {
			return e.postForm("/oauth/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}, "client_id": {DefaultClientID}})
		}, func(m map[string]any) string { return str(m, "access_token") }, 200, 1, false},
		{"unknown token", func(tok string) (int, map[string]any) {
			return e.postForm("/oauth/revoke", url.Values{"token": {"nope"}, "client_id": {DefaultClientID}})
		}, func(m map[string]any) string { return "" }, 200, 0, false},
		{"wrong client", func(tok string) (int, map[string]any) {
			return e.postForm("/oauth/revoke", url.Values{"token": {tok}, "client_id": {"app_other"}})
		}, func(m map[string]any) string { return str(m, "refresh_token") }, 401, 0, false},
		{"bad hint", func(tok string) (int, map[string]any) {
			return e.postForm("/oauth/revoke", url.Values{"token": {tok}, "token_type_hint": {"id_token"}, "client_id": {DefaultClientID}})
		}, func(m map[string]any) string { return str(m, "refresh_token") }, 400, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.login()
			before := e.s.Stats().Revocations
			if st, r := tt.send(tt.token(m)); st != tt.wantStatus {
				t.Fatalf("revoke: %d %q, want %d", st, errCode(r), tt.wantStatus)
			}
			if got := e.s.Stats().Revocations - before; got != tt.wantCount {
				t.Errorf("revocations += %d, want %d", got, tt.wantCount)
			}
			st, _ := e.refresh(str(m, "refresh_token"))
			if dead := st == http.StatusUnauthorized; dead != tt.wantDead {
				t.Errorf("refresh token dead = %v, want %v", dead, tt.wantDead)
			}
		})
	}
}

func TestAPIKeyExchange(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Now: clock.Now})
	id := str(e.login(), "id_token")
	form := func(subject string) url.Values {
		return url.Values{
			"grant_type": {grantTokenExchange}, "client_id": {DefaultClientID},
			"requested_token": {"openai-api-key"}, "subject_token": {subject},
			"subject_token_type": {tokenTypeIDToken},
		}
	}
	st, m := e.postForm("/oauth/token", form(id))
	if st != 200 || !strings.HasPrefix(str(m, "access_token"), "sk-local-") {
		t.Fatalf("exchange: %d %q, want 200 and an sk-local- key", st, errCode(m))
	}
	tampered := id[:len(id)-4] + "AAAA"
	wrongRequested := form(id)
	wrongRequested.Set("requested_token", "access_token")
	tests := []struct {
		name string
		v    url.Values
		want string
	}{
		{"tampered", form(tampered), "invalid_grant"},
		{"not a JWT", form("abc"), "invalid_grant"},
		{"wrong requested_token", wrongRequested, "invalid_request"},
	}
	for _, tt := range tests {
		if st, m := e.postForm("/oauth/token", tt.v); st != 400 || errCode(m) != tt.want {
			t.Errorf("%s: %d %q, want 400 %q", tt.name, st, errCode(m), tt.want)
		}
	}
	clock.Advance(time.Hour)
	if st, m := e.postForm("/oauth/token", form(id)); st != 400 || errCode(m) != "invalid_grant" {
		t.Errorf("expired ID token: %d %q, want 400 invalid_grant", st, errCode(m))
	}
	if got := e.s.Stats().APIKeyExchanges; got != 1 {
		t.Errorf("api_key_exchanges = %d, want 1", got)
	}
}
