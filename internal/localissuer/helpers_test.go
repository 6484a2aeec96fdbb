package localissuer

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is generated once: RSA key generation dominates test time.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an issuer under an httptest server and a client that does not
// follow redirects.
type env struct {
	t    *testing.T
	s    *Server
	base string
	c    *http.Client
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	if cfg.SigningKey == nil {
		cfg.SigningKey = testKey()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		ts.CloseClientConnections()
		ts.Close()
	})
	c := ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = 10 * time.Second
	return &env{t: t, s: s, base: ts.URL, c: c}
}

// pkce is a verifier and its S256 challenge (RFC 7636 4.1, 4.2).
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	v := b64.EncodeToString(b)
	sum := sha256.Sum256([]byte(v))
	return pkce{v, b64.EncodeToString(sum[:])}
}

const testRedirect = "http://localhost:1455/auth/callback"

// authorizeQuery is a valid Codex-like authorize query.
func authorizeQuery(p pkce) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {DefaultClientID},
		"redirect_uri":          {testRedirect},
		"scope":                 {"openid profile email offline_access"},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
		"state":                 {"state-123"},
		"originator":            {"codex_cli_rs"},
	}
}

// get GETs path (no redirects followed).
func (e *env) get(path string) *http.Response {
	e.t.Helper()
	resp, err := e.c.Get(e.base + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

// authorize GETs /oauth/authorize and returns the redirect's query (or
// fails the test when there is none).
func (e *env) authorize(q url.Values) url.Values {
	e.t.Helper()
	resp := e.get("/oauth/authorize?" + q.Encode())
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatalf("authorize: Location: %v", err)
	}
	return loc.Query()
}

// code runs an authorize and returns the code.
func (e *env) code(p pkce) string {
	e.t.Helper()
	q := e.authorize(authorizeQuery(p))
	if q.Get("code") == "" {
		e.t.Fatalf("authorize: no code; error=%q", q.Get("error"))
	}
	return q.Get("code")
}

// post sends body with contentType and decodes a JSON object answer.
func (e *env) post(path, contentType, body string) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.c.Post(e.base+path, contentType, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &v); err != nil {
			e.t.Fatalf("POST %s: body is not JSON: %v", path, err)
		}
	}
	m, _ := v.(map[string]any)
	return resp.StatusCode, m
}

func (e *env) postForm(path string, v url.Values) (int, map[string]any) {
	e.t.Helper()
	return e.post(path, "application/x-www-form-urlencoded", v.Encode())
}

func (e *env) postJSON(path string, v any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(v)
	return e.post(path, "application/json", string(bytes.TrimSpace(b)))
}

// exchange redeems a code with the default redirect.
func (e *env) exchange(code, verifier string) (int, map[string]any) {
	e.t.Helper()
	return e.postForm("/oauth/token", url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {testRedirect},
		"client_id":     {DefaultClientID},
		"code_verifier": {verifier},
	})
}

// login runs a whole browser login and returns the token answer.
func (e *env) login() map[string]any {
	e.t.Helper()
	p := newPKCE()
	st, m := e.exchange(e.code(p), p.verifier)
	if st != http.StatusOK {
		e.t.Fatalf("exchange: status %d, error %v", st, m["error"])
	}
	return m
}

// refresh sends Codex 0.171's JSON refresh request.
func (e *env) refresh(rt string) (int, map[string]any) {
	e.t.Helper()
	return e.postJSON("/oauth/token", map[string]string{
		"client_id":      DefaultClientID,
		"grant_type":     "refresh_token",
		"refresh_reason": "proactive_expiry",
		"refresh_token":  rt,
	})
}

// errCode is the error code of an OAuth or OpenAI error body.
func errCode(m map[string]any) string {
	switch e := m["error"].(type) {
	case string:
		return e
	case map[string]any:
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// str is m[k] as a string.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// claims decodes a JWT payload without checking it.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return m
}
