package localissuer

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// verifyWithJWKS checks jwt's RS256 signature with the key published at
// /.well-known/jwks.json (read independently of the issuer's code).
func verifyWithJWKS(t *testing.T, e *env, jwt string) {
	t.Helper()
	resp := e.get("/.well-known/jwks.json")
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Alg, Kid, N, E string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v, %d keys", err, len(set.Keys))
	}
	k := set.Keys[0]
	n, _ := b64.DecodeString(k.N)
	eb, _ := b64.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(eb).Int64())}
	parts := strings.Split(jwt, ".")
	hb, _ := b64.DecodeString(parts[0])
	var h struct{ Alg, Kid string }
	_ = json.Unmarshal(hb, &h)
	if h.Alg != "RS256" || h.Kid != k.Kid || k.Kty != "RSA" {
		t.Fatalf("JWT header alg=%q kid=%q; JWKS kty=%q kid=%q", h.Alg, h.Kid, k.Kty, k.Kid)
	}
	sig, _ := b64.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("JWT signature does not verify with the JWKS key: %v", err)
	}
}

func TestBrowserLogin(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{
		Users: []User{{Email: "ada@example.com", PlanType: "pro", WorkspaceID: "ws-1",
			UserID: "user-1", OrganizationID: "org-1"}},
		AccessTokenTTL: 2 * time.Hour,
		Now:            clock.Now,
	})
	p := newPKCE()
	q := e.authorize(authorizeQuery(p))
	if got, want := q.Get("state"), "state-123"; got != want {
		t.Errorf("state = %q, want %q", got, want)
	}
	st, m := e.exchange(q.Get("code"), p.verifier)
	if st != http.StatusOK {
		t.Fatalf("exchange: status %d, error %v", st, m["error"])
	}
	for _, k := range []string{"id_token", "access_token", "refresh_token"} {
		if str(m, k) == "" {
			t.Errorf("token answer lacks %s", k)
		}
	}
	if got, want := m["token_type"], "Bearer"; got != want {
		t.Errorf("token_type = %v, want %v", got, want)
	}
	if got, want := m["expires_in"], float64(7200); got != want {
		t.Errorf("expires_in = %v, want %v", got, want)
	}
	verifyWithJWKS(t, e, str(m, "id_token"))
	verifyWithJWKS(t, e, str(m, "access_token"))

	id := claims(t, str(m, "id_token"))
	now := clock.Now().Unix()
	want := map[string]any{
		"iss":   e.base,
		"aud":   DefaultClientID,
		"sub":   "user-1",
		"email": "ada@example.com",
		"iat":   float64(now),
		"exp":   float64(now + 3600),
		ClaimAuth: map[string]any{
			"chatgpt_plan_type": "pro", "chatgpt_user_id": "user-1", "chatgpt_account_id": "ws-1",
			"organization_id": "org-1", "user_id": "user-1",
		},
		ClaimProfile: map[string]any{"email": "ada@example.com", "email_verified": true},
	}
	got := map[string]any{}
	for k := range want {
		got[k] = id[k]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ID token claims (-want +got):\n%s", d)
	}
	if got, want := claims(t, str(m, "access_token"))["exp"], float64(now+7200); got != want {
		t.Errorf("access token exp = %v, want %v", got, want)
	}
	if d := cmp.Diff(Stats{CodesIssued: 1, CodesRedeemed: 1}, e.s.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestAuthorizeRejects(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name      string
		change    func(url.Values)
		wantError string // "" means a 400 page with no redirect
	}{
		{"missing client_id", func(q url.Values) { q.Del("client_id") }, ""},
		{"wrong client_id", func(q url.Values) { q.Set("client_id", "app_other") }, ""},
		{"missing redirect_uri", func(q url.Values) { q.Del("redirect_uri") }, ""},
		{"port not allowed", func(q url.Values) { q.Set("redirect_uri", "http://localhost:1456/auth/callback") }, ""},
		{"no port", func(q url.Values) { q.Set("redirect_uri", "http://localhost/auth/callback") }, ""},
		{"host not loopback", func(q url.Values) { q.Set("redirect_uri", "http://example.com:1455/auth/callback") }, ""},
		{"https scheme", func(q url.Values) { q.Set("redirect_uri", "https://localhost:1455/auth/callback") }, ""},
		{"wrong path", func(q url.Values) { q.Set("redirect_uri", "http://localhost:1455/callback") }, ""},
		{"query in redirect", func(q url.Values) { q.Set("redirect_uri", "http://localhost:1455/auth/callback?x=1") }, ""},
		{"duplicate parameter", func(q url.Values) { q.Add("state", "again") }, ""},
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"missing state", func(q url.Values) { q.Del("state") }, "invalid_request"},
		{"scope without openid", func(q url.Values) { q.Set("scope", "profile email") }, "invalid_scope"},
		{"plain method", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"missing method", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"missing challenge", func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request"},
		{"workspace not allowed", func(q url.Values) { q.Set("allowed_workspace_id", "ws-other") }, "access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authorizeQuery(newPKCE())
			tt.change(q)
			resp := e.get("/oauth/authorize?" + q.Encode())
			resp.Body.Close()
			if tt.wantError == "" {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
					t.Fatalf("status %d Location %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302", resp.StatusCode)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := loc.Query().Get("error"); got != tt.wantError {
				t.Errorf("error = %q, want %q", got, tt.wantError)
			}
			if loc.Query().Get("code") != "" {
				t.Errorf("redirect carries a code")
			}
		})
	}
	if got := e.s.Stats().CodesIssued; got != 0 {
		t.Errorf("codes issued = %d, want 0", got)
	}
}

func TestAuthorizeAccepts(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		change func(url.Values)
	}{
		{"127.0.0.1 on 1457", Config{}, func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:1457/auth/callback") }},
		{"[::1]", Config{}, func(q url.Values) { q.Set("redirect_uri", "http://[::1]:1455/auth/callback") }},
		{"any port with 0", Config{AllowedRedirectPorts: []int{0}}, func(q url.Values) {
			q.Set("redirect_uri", "http://127.0.0.1:40123/auth/callback")
		}},
		{"allowed workspace", Config{Users: []User{{Email: "a@x", WorkspaceID: "ws-1"}}}, func(q url.Values) {
			q.Set("allowed_workspace_id", "ws-1")
		}},
		{"workspace ignored", Config{IgnoreAllowedWorkspace: true}, func(q url.Values) {
			q.Set("allowed_workspace_id", "ws-other")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			p := newPKCE()
			q := authorizeQuery(p)
			tt.change(q)
			got := e.authorize(q)
			if got.Get("code") == "" {
				t.Fatalf("no code; error=%q", got.Get("error"))
			}
			st, m := e.postForm("/oauth/token", url.Values{
				"grant_type": {"authorization_code"}, "code": {got.Get("code")},
				"redirect_uri": {q.Get("redirect_uri")}, "client_id": {DefaultClientID},
				"code_verifier": {p.verifier},
			})
			if st != http.StatusOK {
				t.Fatalf("exchange: status %d error %v", st, m["error"])
			}
		})
	}
}

func TestCodeExchangeRejects(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name       string
		change     func(v url.Values, p pkce)
		jsonBody   bool
		wantStatus int
		wantError  string
	}{
		{"wrong verifier", func(v url.Values, p pkce) { v.Set("code_verifier", newPKCE().verifier) }, false, 400, "invalid_grant"},
		{"challenge as verifier (plain)", func(v url.Values, p pkce) { v.Set("code_verifier", p.challenge) }, false, 400, "invalid_grant"},
		{"short verifier", func(v url.Values, p pkce) { v.Set("code_verifier", "abc") }, false, 400, "invalid_grant"},
		{"missing verifier", func(v url.Values, p pkce) { v.Del("code_verifier") }, false, 400, "invalid_request"},
		{"redirect_uri mismatch", func(v url.Values, p pkce) { v.Set("redirect_uri", "http://localhost:1457/auth/callback") }, false, 400, "invalid_grant"},
		{"missing redirect_uri", func(v url.Values, p pkce) { v.Del("redirect_uri") }, false, 400, "invalid_request"},
		{"wrong client_id", func(v url.Values, p pkce) { v.Set("client_id", "app_other") }, false, 401, "invalid_client"},
		{"missing client_id", func(v url.Values, p pkce) { v.Del("client_id") }, false, 400, "invalid_request"},
		{"unknown code", func(v url.Values, p pkce) { v.Set("code", "ac_nope") }, false, 400, "invalid_grant"},
		{"unknown grant", func(v url.Values, p pkce) { v.Set("grant_type", "password") }, false, 400, "unsupported_grant_type"},
		{"JSON body", func(v url.Values, p pkce) {}, true, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPKCE()
			v := url.Values{
				"grant_type": {"authorization_code"}, "code": {e.code(p)}, "redirect_uri": {testRedirect},
				"client_id": {DefaultClientID}, "code_verifier": {p.verifier},
			}
			tt.change(v, p)
			var st int
			var m map[string]any
			if tt.jsonBody {
				flat := map[string]string{}
				for k := range v {
					flat[k] = v.Get(k)
				}
				st, m = e.postJSON("/oauth/token", flat)
			} else {
				st, m = e.postForm("/oauth/token", v)
			}
			if st != tt.wantStatus || errCode(m) != tt.wantError {
				t.Errorf("got %d %q, want %d %q", st, errCode(m), tt.wantStatus, tt.wantError)
			}
			if str(m, "access_token") != "" {
				t.Errorf("answer carries tokens")
			}
		})
	}
	if got, want := e.s.Stats().TokenErrors, len(tests); got != want {
		t.Errorf("token_errors = %d, want %d", got, want)
	}
	if got := e.s.Stats().CodesRedeemed; got != 0 {
		t.Errorf("codes_redeemed = %d, want 0", got)
	}
}

func TestCodeBurntByFailedAttempt(t *testing.T) {
	e := newEnv(t, Config{})
	p := newPKCE()
	code := e.code(p)
	if st, _ := e.exchange(code, newPKCE().verifier); st != http.StatusBadRequest {
		t.Fatalf("wrong verifier: status %d, want 400", st)
	}
	if st, m := e.exchange(code, p.verifier); st != http.StatusBadRequest || errCode(m) != "invalid_grant" {
		t.Errorf("right verifier after a failed attempt: %d %q, want 400 invalid_grant", st, errCode(m))
	}
}

func TestCodeExpires(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Now: clock.Now})
	p := newPKCE()
	code := e.code(p)
	clock.Advance(codeTTL)
	if st, m := e.exchange(code, p.verifier); st != http.StatusBadRequest || errCode(m) != "invalid_grant" {
		t.Errorf("expired code: %d %q, want 400 invalid_grant", st, errCode(m))
	}
}

func TestCodeReplayRevokesTokens(t *testing.T) {
	e := newEnv(t, Config{})
	p := newPKCE()
	code := e.code(p)
	st, first := e.exchange(code, p.verifier)
	if st != http.StatusOK {
		t.Fatalf("first exchange: %d", st)
	}
	if st, m := e.exchange(code, p.verifier); st != http.StatusBadRequest || errCode(m) != "invalid_grant" {
		t.Errorf("replay: %d %q, want 400 invalid_grant", st, errCode(m))
	}
	if st, m := e.refresh(str(first, "refresh_token")); st != http.StatusUnauthorized || errCode(m) != "refresh_token_invalidated" {
		t.Errorf("refresh after replay: %d %q, want 401 refresh_token_invalidated", st, errCode(m))
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, Config{})
	resp := e.get("/.well-known/openid-configuration")
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                           e.base,
		"authorization_endpoint":           e.base + "/oauth/authorize",
		"token_endpoint":                   e.base + "/oauth/token",
		"jwks_uri":                         e.base + "/.well-known/jwks.json",
		"revocation_endpoint":              e.base + "/oauth/revoke",
		"code_challenge_methods_supported": []any{"S256"},
	}
	got := map[string]any{}
	for k := range want {
		got[k] = d[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}
}

func TestFormAuthorize(t *testing.T) {
	e := newEnv(t, Config{Form: true, Users: []User{{Email: "a@x"}, {Email: "b@x"}}})
	form := func(t *testing.T) string {
		resp := e.get("/oauth/authorize?" + authorizeQuery(newPKCE()).Encode())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `name="request_id"`) {
			t.Fatalf("form: status %d, request_id field present %v", resp.StatusCode, strings.Contains(string(b), "request_id"))
		}
		_, rest, _ := strings.Cut(string(b), `name="request_id" value="`)
		id, _, _ := strings.Cut(rest, `"`)
		return id
	}
	postForm := func(t *testing.T, v url.Values) url.Values {
		resp, err := e.c.PostForm(e.base+"/oauth/authorize", v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want 302", resp.StatusCode)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query()
	}
	if got := e.s.Stats().CodesIssued; got != 0 {
		t.Fatalf("a code was issued before the form was answered")
	}
	t.Run("deny", func(t *testing.T) {
		q := postForm(t, url.Values{"request_id": {form(t)}, "action": {"deny"}})
		if q.Get("error") != "access_denied" || q.Get("state") != "state-123" {
			t.Errorf("deny: error=%q state=%q", q.Get("error"), q.Get("state"))
		}
	})
	t.Run("approve as b", func(t *testing.T) {
		id := form(t)
		q := postForm(t, url.Values{"request_id": {id}, "action": {"approve"}, "email": {"b@x"}})
		if q.Get("code") == "" {
			t.Fatalf("approve: no code, error=%q", q.Get("error"))
		}
		// The request is spent.
		resp, err := e.c.PostForm(e.base+"/oauth/authorize", url.Values{"request_id": {id}, "action": {"approve"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("second answer: status %d, want 400", resp.StatusCode)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"user without email", Config{Users: []User{{PlanType: "plus"}}}},
		{"duplicate user", Config{Users: []User{{Email: "a@x"}, {Email: "a@x"}}}},
		{"negative ttl", Config{AccessTokenTTL: -time.Second}},
		{"fractional interval", Config{DeviceInterval: 1500 * time.Millisecond}},
		{"bad port", Config{AllowedRedirectPorts: []int{70000}}},
		{"bad fault", Config{Faults: Faults{{Kind: "explode"}}}},
		{"latency without duration", Config{Faults: Faults{{Kind: FaultLatency}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.SigningKey = testKey()
			if _, err := New(tt.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
		})
	}
}
