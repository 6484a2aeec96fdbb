package loopback

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzState is the login's state: no page may repeat it.
const fuzzState = "STATE-7f3a9c1e5b2d4068"

// FuzzCallback sends one arbitrary request (method, Host, path, query,
// Origin) to the callback server's handler, without a socket, and checks
// the loopback surface: no panic; only GET on /auth/callback, /success
// and /cancel with a loopback Host is answered with anything but an
// error; the flow hears a callback only for GET /auth/callback with a
// loopback Host and the right state; /cancel works only for GET with a
// loopback Host and no web page behind it; and no page repeats the state
// or an authorization code.
func FuzzCallback(f *testing.F) {
	f.Add("GET", "127.0.0.1:1455", "/auth/callback", "code=abc&state="+fuzzState, "")
	f.Add("GET", "localhost:1455", "/auth/callback", "error=access_denied&state="+fuzzState, "")
	f.Add("GET", "[::1]:1455", "/auth/callback", "state="+fuzzState, "")
	f.Add("GET", "127.0.0.1:1455", "/auth/callback", "code=abc&state=wrong", "")
	f.Add("POST", "127.0.0.1:1455", "/auth/callback", "code=abc&state="+fuzzState, "")
	f.Add("GET", "evil.example:1455", "/auth/callback", "code=abc&state="+fuzzState, "")
	f.Add("GET", "127.0.0.1:1455", "/cancel", "", "https://evil.example")
	f.Add("GET", "127.0.0.1:1455", "/cancel", "", "")
	f.Add("GET", "127.0.0.1:1455", "/success", "", "")
	f.Add("GET", "127.0.0.1:1455", "/%2e%2e/auth/callback", "", "")
	f.Add("GET", "127.0.0.1:1455", "/auth/callback", "code=<script>alert(1)</script>CODE-0123456789abcdef&state="+fuzzState, "")
	f.Fuzz(func(t *testing.T, method, host, path, query, origin string) {
		u, err := url.Parse("http://127.0.0.1:1455" + path + "?" + query)
		if err != nil || !validMethod(method) {
			return
		}
		req, err := http.NewRequest(method, u.String(), nil)
		if err != nil {
			return
		}
		req.Host = host
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		cb := &Server{
			port:     1455,
			state:    fuzzState,
			results:  make(chan Result, 1),
			canceled: make(chan struct{}),
			success:  make(chan struct{}),
			done:     make(chan struct{}),
		}
		heard := make(chan Result, 1)
		go func() {
			// The flow: exchange succeeds.
			select {
			case r := <-cb.results:
				heard <- r
				if r.reply != nil {
					r.Reply(Outcome{})
				}
			case <-cb.done:
			}
		}()
		w := httptest.NewRecorder()
		cb.ServeHTTP(w, req)
		close(cb.done)

		loopbackHost := cb.loopbackHost(host)
		servedPath := req.URL.Path == "/auth/callback" || req.URL.Path == "/success" || req.URL.Path == "/cancel"
		if w.Code < 400 && !(method == http.MethodGet && loopbackHost && servedPath) {
			t.Fatalf("%s %s (Host %q) answered %d; want an error", method, req.URL.Path, host, w.Code)
		}
		var got *Result
		select {
		case r := <-heard:
			got = &r
		default:
		}
		q := req.URL.Query()
		if got != nil && !(method == http.MethodGet && loopbackHost && req.URL.Path == "/auth/callback" && q.Get("state") == fuzzState) {
			t.Fatalf("the flow heard a callback from %s %s (Host %q, state %q)", method, req.URL.Path, host, q.Get("state"))
		}
		select {
		case <-cb.canceled:
			if method != http.MethodGet || !loopbackHost || req.URL.Path != "/cancel" || fromWebPage(req) {
				t.Fatalf("the login was canceled by %s %s (Host %q, Origin %q)", method, req.URL.Path, host, origin)
			}
		default:
		}
		body := w.Body.String()
		if strings.Contains(body, fuzzState) {
			t.Fatalf("a page repeats the state: %q", body)
		}
		if code := q.Get("code"); len(code) >= 16 && strings.Contains(body, code) {
			t.Fatalf("a page repeats the authorization code: %q", body)
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("a page without Cache-Control: no-store")
		}
	})
}

// validMethod: a token (RFC 9110 section 5.6.2), as net/http accepts.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}
