package session

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// callbackURL is the started login's redirect URI with the given query.
func callbackURL(t *testing.T, bl BrowserLogin, q url.Values) string {
	t.Helper()
	u, err := url.Parse(bl.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	redirect := u.Query().Get("redirect_uri")
	return redirect + "?" + q.Encode()
}

func stateOf(t *testing.T, bl BrowserLogin) string {
	u, _ := url.Parse(bl.AuthURL)
	return u.Query().Get("state")
}

func portOf(t *testing.T, bl BrowserLogin) int {
	u, _ := url.Parse(bl.AuthURL)
	r, _ := url.Parse(u.Query().Get("redirect_uri"))
	p, err := strconv.Atoi(r.Port())
	if err != nil {
		t.Fatalf("no port in %q", r)
	}
	return p
}

func rawGet(t *testing.T, method, target, host string) int {
	t.Helper()
	return request(t, method, target, host, nil)
}

// request sends method target (with Host host when set, and the headers
// h) without following redirects, and returns the status.
func request(t *testing.T, method, target, host string, h map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCallbackRefusals(t *testing.T) {
	e := newTestEnv(t, nil)
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(portOf(t, bl))
	base := "http://127.0.0.1:" + port
	tests := []struct {
		name, method, target, host string
		want                       int
	}{
		{"wrong state", "GET", callbackURL(t, bl, url.Values{"state": {"forged"}, "code": {"x"}}), "", 400},
		{"no state", "GET", callbackURL(t, bl, url.Values{"code": {"x"}}), "", 400},
		{"wrong state with error", "GET", callbackURL(t, bl, url.Values{"state": {"forged"}, "error": {"access_denied"}}), "", 400},
		{"foreign host", "GET", base + "/success", "evil.example:" + port, 403},
		{"foreign host on callback", "GET", callbackURL(t, bl, url.Values{"state": {stateOf(t, bl)}, "code": {"x"}}), "evil.example", 403},
		{"loopback host, wrong port", "GET", base + "/success", "localhost:1", 403},
		{"other path", "GET", base + "/", "", 404},
		{"other path 2", "GET", base + "/auth/callback/x", "", 404},
		{"POST callback", "POST", callbackURL(t, bl, url.Values{"state": {stateOf(t, bl)}, "code": {"x"}}), "", 405},
		{"PUT cancel", "PUT", base + "/cancel", "", 405},
		{"ipv4 host", "GET", base + "/nothing", "127.0.0.1:" + port, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawGet(t, tc.method, tc.target, tc.host); got != tc.want {
				t.Errorf("%s %s (Host %q) = %d, want %d", tc.method, tc.target, tc.host, got, tc.want)
			}
		})
	}
	// After all that, the login is still waiting and succeeds.
	resp, _ := browser(t, bl.AuthURL)
	if resp.Request.URL.Path != "/success" {
		t.Errorf("browser ended at %s, want /success", resp.Request.URL)
	}
	evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
	if diff := cmp.Diff([]LoginCompleted{{LoginID: bl.LoginID, Success: true}}, completed(evs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// headerGet is GET target with the given request headers, as a browser
// sends them; it returns the status.
func headerGet(t *testing.T, target string, h map[string]string) int {
	t.Helper()
	return request(t, http.MethodGet, target, "", h)
}

// TestCancelRefusesWebPages: any page the user visits can make the
// browser GET http://localhost:1455/cancel (an <img>, a fetch, a form, a
// link); the browser then says so in Origin or Sec-Fetch-*. Such a
// request must not end the sign-in; the callback, which the issuer's
// cross-site redirect brings, still works.
func TestCancelRefusesWebPages(t *testing.T) {
	e := newTestEnv(t, nil)
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(portOf(t, bl))
	for _, host := range []string{"127.0.0.1", "localhost"} {
		cancel := "http://" + host + ":" + port + "/cancel"
		for _, h := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, // <img src>
			{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},                           // a link
			{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"},                            // another localhost port
			{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"},                              // fetch()
			{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "no-cors"},
			{"Origin": "https://evil.example"},
			{"Origin": "null"},
			{"Origin": "https://evil.example", "Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"},
			{"Sec-Fetch-Mode": "no-cors"},
		} {
			if got := headerGet(t, cancel, h); got != http.StatusForbidden {
				t.Errorf("GET %s with %v = %d, want 403", cancel, h, got)
			}
		}
	}
	// The sign-in is still running: the issuer's redirect (cross-site,
	// a top-level navigation) completes it.
	q := url.Values{"state": {stateOf(t, bl)}, "code": {"x"}}
	if got := headerGet(t, callbackURL(t, bl, q), map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}); got == http.StatusForbidden {
		t.Errorf("the callback with a browser's cross-site headers = 403, want it served")
	}
	evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
	if got := completed(evs); len(got) != 1 || got[0].Error == "canceled" {
		t.Errorf("login ended with %+v, want it not canceled by a web page", got)
	}
}

// TestCancelAcceptsTheUser: what Codex (and our own port takeover) sends
// carries none of a browser's headers; a user typing the address (Sec-
// Fetch-Site: none, navigate) may cancel too.
func TestCancelAcceptsTheUser(t *testing.T) {
	for _, h := range []map[string]string{
		nil,
		{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"},
	} {
		e := newTestEnv(t, nil)
		bl, err := e.m.StartBrowserLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got := headerGet(t, "http://127.0.0.1:"+strconv.Itoa(portOf(t, bl))+"/cancel", h); got != http.StatusOK {
			t.Errorf("GET /cancel with %v = %d, want 200", h, got)
		}
		evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
		if diff := cmp.Diff([]LoginCompleted{{LoginID: bl.LoginID, Error: "canceled"}}, completed(evs)); diff != "" {
			t.Errorf("GET /cancel with %v (-want +got):\n%s", h, diff)
		}
	}
}

func TestCallbackFailures(t *testing.T) {
	tests := []struct {
		name    string
		query   func(state string) url.Values
		wantErr string
	}{
		{"access denied", func(s string) url.Values { return url.Values{"state": {s}, "error": {"access_denied"}} },
			"login failed: the sign-in server answered access_denied"},
		{"hostile error code", func(s string) url.Values { return url.Values{"state": {s}, "error": {"<script>"}} },
			"login failed: the sign-in server answered an error"},
		{"missing code", func(s string) url.Values { return url.Values{"state": {s}} },
			"login failed: the redirect carried no authorization code"},
		{"unknown code", func(s string) url.Values { return url.Values{"state": {s}, "code": {"forged"}} },
			"sign-in server answered HTTP 400: invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, nil)
			bl, err := e.m.StartBrowserLogin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			resp, body := browser(t, callbackURL(t, bl, tc.query(stateOf(t, bl))))
			if resp.StatusCode < 400 || strings.Contains(body, "<script>") {
				t.Errorf("got %d, want an error page without the echoed input; body %q", resp.StatusCode, body)
			}
			evs := e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
			if diff := cmp.Diff([]any{LoginCompleted{LoginID: bl.LoginID, Error: tc.wantErr}}, evs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if e.st.get() != nil {
				t.Error("a failed login saved a record")
			}
			// The port is free again.
			l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(portOf(t, bl)))
			if err != nil {
				t.Errorf("port still taken after the login ended: %v", err)
			} else {
				l.Close()
			}
		})
	}
}

func TestCancelLoginFreesPort(t *testing.T) {
	e := newTestEnv(t, nil)
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !e.m.CancelLogin(t.Context(), bl.LoginID) {
		t.Fatal("CancelLogin found no login")
	}
	// CancelLogin returns once the flow has ended.
	if diff := cmp.Diff([]any{LoginCompleted{LoginID: bl.LoginID, Error: "canceled"}}, e.rec.all()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(portOf(t, bl)))
	if err != nil {
		t.Fatalf("port still taken after cancel: %v", err)
	}
	l.Close()
	if e.m.CancelLogin(t.Context(), "login-unknown") {
		t.Error("CancelLogin of an unknown id reported it running")
	}
}

// freePort finds a port free right now on 127.0.0.1.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestPortTakenByStranger(t *testing.T) {
	stranger, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits := make(chan string, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.URL.Path
		http.NotFound(w, r)
	})}
	go srv.Serve(stranger)
	t.Cleanup(func() { srv.Close() })
	taken := stranger.Addr().(*net.TCPAddr).Port
	fallback := freePort(t)

	e := newTestEnv(t, func(o *Options) { o.CallbackPort, o.FallbackPort = taken, fallback })
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := portOf(t, bl); got != fallback {
		t.Errorf("login listens on %d, want the fallback %d", got, fallback)
	}
	if got := <-hits; got != "/cancel" {
		t.Errorf("the stranger got %q, want /cancel", got)
	}
	resp, _ := browser(t, bl.AuthURL)
	if resp.Request.URL.Path != "/success" {
		t.Errorf("browser ended at %s, want /success", resp.Request.URL)
	}
	e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
}

func TestPortTakenByOldLogin(t *testing.T) {
	port, fallback := freePort(t), freePort(t)
	mut := func(o *Options) { o.CallbackPort, o.FallbackPort = port, fallback }
	old := newTestEnv(t, mut) // another process's login, still waiting
	oldLogin, err := old.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := portOf(t, oldLogin); got != port {
		t.Fatalf("old login on %d, want %d", got, port)
	}
	e := newTestEnv(t, mut)
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := portOf(t, bl); got != port {
		t.Errorf("new login on %d, want the old login's port %d", got, port)
	}
	evs := old.rec.waitFor(t, "old login ended", succeeded(oldLogin.LoginID))
	if diff := cmp.Diff([]any{LoginCompleted{LoginID: oldLogin.LoginID, Error: "canceled"}}, evs); diff != "" {
		t.Errorf("old login (-want +got):\n%s", diff)
	}
	resp, _ := browser(t, bl.AuthURL)
	if resp.Request.URL.Path != "/success" {
		t.Errorf("browser ended at %s, want /success", resp.Request.URL)
	}
	e.rec.waitFor(t, "login completed", succeeded(bl.LoginID))
}

func TestCallbackListensOnIPv6(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback here:", err)
	} else {
		l.Close()
	}
	e := newTestEnv(t, nil)
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(portOf(t, bl))
	if got := rawGet(t, "GET", "http://[::1]:"+port+"/nothing", ""); got != 404 {
		t.Errorf("[::1] answered %d, want 404 from our server", got)
	}
}

// TestLogoutEndsLoginInProgress: a browser login left open must not sign
// the user back in after a logout.
func TestLogoutEndsLoginInProgress(t *testing.T) {
	e := newTestEnv(t, nil)
	bl, err := e.m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []any{LoginCompleted{LoginID: bl.LoginID, Error: "canceled"}, AccountUpdated{}}
	if diff := cmp.Diff(want, e.rec.all()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if e.m.CancelLogin(t.Context(), bl.LoginID) {
		t.Error("the login is still running after the logout")
	}
}
