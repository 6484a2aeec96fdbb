package loopback

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Binding the callback port: when it is taken, ask the holder (an older
// login of ours or of Codex) to stop with GET /cancel, then retry a few
// times before moving to the fallback port, as Codex does.
const (
	callbackBindAttempts = 5
	callbackBindDelay    = 100 * time.Millisecond
	// SuccessGrace: after a good exchange, how long the server waits for
	// the browser to fetch /success before closing.
	SuccessGrace = 5 * time.Second
)

// Result is what the redirect brought: a code to exchange (the
// handler waits on reply), or an error (error=..., missing code).
type Result struct {
	code  string
	query url.Values
	err   error
	reply chan Outcome
}

// Outcome is how the exchange of a code ended, for the browser's page.
type Outcome struct {
	// Failure is why the sign-in failed, safe to show; "" on success.
	Failure string
	// Forbidden: managed policy refused the login (403, else 502).
	Forbidden bool
}

// Code is the authorization code, when Err is nil.
func (r Result) Code() string { return r.code }

// Query is the whole redirect query (code, state, and iss when the
// server sends it: RFC 9207), for a client that checks more than the
// state.
func (r Result) Query() url.Values { return r.query }

// Err is why the redirect brought no code (error=..., no code), safe to
// show.
func (r Result) Err() error { return r.err }

// Reply tells the waiting browser page how the exchange of Code ended.
func (r Result) Reply(o Outcome) { r.reply <- o }

// Port is the port the server listens on.
func (cb *Server) Port() int { return cb.port }

// Results delivers the one redirect that carried a code or an error.
func (cb *Server) Results() <-chan Result { return cb.results }

// Canceled is closed when GET /cancel asked the login to stop (Codex, or
// a newer login of ours taking the port over).
func (cb *Server) Canceled() <-chan struct{} { return cb.canceled }

// Succeeded is closed once the browser fetched the success page.
func (cb *Server) Succeeded() <-chan struct{} { return cb.success }

// Server listens on 127.0.0.1 (and [::1] when it can) on one port
// and serves only the callback (/auth/callback), /success and /cancel.
type Server struct {
	port      int
	state     string
	opts      Options
	listeners []net.Listener
	srv       *http.Server

	results  chan Result
	claimed  atomic.Bool   // a code or error was taken: later callbacks are refused
	canceled chan struct{} // closed by GET /cancel
	success  chan struct{} // closed when /success was served
	done     chan struct{} // closed by close
	once     sync.Once
	cancelMu sync.Once
	succMu   sync.Once
}

// Options tune ListenWith; the zero value is Codex's sign-in.
type Options struct {
	// CallbackPath is the redirect's path (default CodexCallbackPath).
	CallbackPath string
	// Service names what the user signed in to, on the success page
	// (default "Codex").
	Service string
}

// CodexCallbackPath is the redirect path OpenAI's issuer accepts.
const CodexCallbackPath = "/auth/callback"

// Listen binds the loopback callback server for Codex's sign-in. ports
// are tried in order (port 0: any free port).
func Listen(ctx context.Context, state string, ports []int) (*Server, error) {
	return ListenWith(ctx, state, ports, Options{})
}

// ListenWith is Listen for another sign-in (an OpenID provider's).
func ListenWith(ctx context.Context, state string, ports []int, opts Options) (*Server, error) {
	if opts.CallbackPath == "" {
		opts.CallbackPath = CodexCallbackPath
	}
	if opts.CallbackPath[0] != '/' || opts.CallbackPath == "/success" || opts.CallbackPath == "/cancel" {
		return nil, fmt.Errorf("loopback: callback path %q", opts.CallbackPath)
	}
	if opts.Service == "" {
		opts.Service = "Codex"
	}
	var lastErr error
	for _, port := range ports {
		l, err := bindLoopback(ctx, port)
		if err == nil {
			return newServer(state, opts, l), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
	}
	return nil, fmt.Errorf("the sign-in callback ports %v are in use by another program (%v); close it or use device code login", ports, lastErr)
}

// bindLoopback listens on 127.0.0.1:port, asking an older holder to
// cancel when the port is taken, then on [::1] on the same port when
// the system has IPv6 loopback (so `localhost` works whichever address it
// resolves to).
func bindLoopback(ctx context.Context, port int) ([]net.Listener, error) {
	var lc net.ListenConfig
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var l4 net.Listener
	var err error
	for attempt := 0; attempt < callbackBindAttempts; attempt++ {
		l4, err = lc.Listen(ctx, "tcp4", addr)
		if err == nil || port == 0 {
			break
		}
		if attempt == 0 {
			sendCancel(ctx, port)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(callbackBindDelay):
		}
	}
	if err != nil {
		return nil, err
	}
	ls := []net.Listener{l4}
	actual := l4.Addr().(*net.TCPAddr).Port
	if l6, err := lc.Listen(ctx, "tcp6", net.JoinHostPort("::1", strconv.Itoa(actual))); err == nil {
		ls = append(ls, l6)
	}
	return ls, nil
}

// sendCancel asks whatever holds the port to stop a login (Codex's
// callback server and ours both serve GET /cancel). Best effort.
func sendCancel(ctx context.Context, port int) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/cancel", nil)
	if err != nil {
		return
	}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
}

func newServer(state string, opts Options, ls []net.Listener) *Server {
	cb := &Server{
		port:      ls[0].Addr().(*net.TCPAddr).Port,
		state:     state,
		opts:      opts,
		listeners: ls,
		results:   make(chan Result),
		canceled:  make(chan struct{}),
		success:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	cb.srv = &http.Server{
		Handler:           cb,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
	}
	for _, l := range ls {
		go func() { _ = cb.srv.Serve(l) }()
	}
	return cb
}

// close stops the server and frees the port.
func (cb *Server) Close() {
	cb.once.Do(func() {
		close(cb.done)
		// Free the port now (Serve may not have taken the listeners yet),
		for _, l := range cb.listeners {
			_ = l.Close()
		}
		// and let a page being written finish; handlers never wait past done.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if cb.srv.Shutdown(ctx) != nil {
			_ = cb.srv.Close()
		}
	})
}

// loopbackHost reports whether a Host header names this server by a
// loopback name (DNS rebinding protection).
func (cb *Server) loopbackHost(host string) bool {
	p := strconv.Itoa(cb.port)
	switch host {
	case "localhost:" + p, "127.0.0.1:" + p, "[::1]:" + p:
		return true
	}
	return false
}

// ServeHTTP serves the three routes.
func (cb *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if !cb.loopbackHost(r.Host) {
		page(w, http.StatusForbidden, "Forbidden", "This address only answers to localhost.")
		return
	}
	switch r.URL.Path {
	case cb.opts.CallbackPath, "/success", "/cancel":
	default:
		page(w, http.StatusNotFound, "Not found", "There is nothing here.")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		page(w, http.StatusMethodNotAllowed, "Method not allowed", "Only GET is served here.")
		return
	}
	switch r.URL.Path {
	case cb.opts.CallbackPath:
		cb.serveCallback(w, r)
	case "/success":
		cb.succMu.Do(func() { close(cb.success) })
		page(w, http.StatusOK, "Signed in", "You are signed in to "+cb.opts.Service+". You can close this window and return to your editor.")
	case "/cancel":
		if fromWebPage(r) {
			page(w, http.StatusForbidden, "Forbidden", "A web page cannot cancel a sign-in.")
			return
		}
		cb.cancelMu.Do(func() { close(cb.canceled) })
		page(w, http.StatusOK, "Sign-in canceled", "The sign-in was canceled. You can close this window.")
	}
}

// fromWebPage reports whether a request was made by a web page rather
// than by Codex, by our own port takeover (sendCancel) or by the user
// typing the address: any page can make the browser GET
// http://localhost:1455/cancel (an <img>, a link, fetch) with a loopback
// Host, but the browser then sends an Origin, or Sec-Fetch-Site other
// than "none" (Fetch Metadata, W3C), or a Sec-Fetch-Mode other than
// "navigate". Non-browser clients send none of these. Only /cancel is
// checked: /auth/callback and /success are reached by the issuer's
// cross-site redirect.
func fromWebPage(r *http.Request) bool {
	if _, ok := r.Header["Origin"]; ok {
		return true
	}
	if v, ok := r.Header["Sec-Fetch-Site"]; ok && (len(v) != 1 || v[0] != "none") {
		return true
	}
	if v, ok := r.Header["Sec-Fetch-Mode"]; ok && (len(v) != 1 || v[0] != "navigate") {
		return true
	}
	return false
}

// serveCallback handles the authorization response (RFC 6749 section
// 4.1.2): the state must match (else 400, and the flow keeps waiting);
// error=... or a missing code ends the login; a code is handed to the
// flow, and the browser is redirected to /success once it is exchanged.
func (cb *Server) serveCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("state") != cb.state {
		page(w, http.StatusBadRequest, "Sign-in failed", "The state parameter does not match this sign-in. Start the sign-in again from your editor.")
		return
	}
	if !cb.claimed.CompareAndSwap(false, true) {
		page(w, http.StatusConflict, "Sign-in already finished", "This sign-in has already finished. You can close this window.")
		return
	}
	res := Result{code: q.Get("code"), query: q}
	switch {
	case q.Get("error") != "":
		res.err = fmt.Errorf("the sign-in server answered %s", oauthCode(q.Get("error")))
	case res.code == "":
		res.err = errors.New("the redirect carried no authorization code")
	default:
		res.reply = make(chan Outcome, 1)
	}
	select {
	case cb.results <- res:
	case <-cb.done:
		page(w, http.StatusServiceUnavailable, "Sign-in ended", "This sign-in is no longer running. Start it again from your editor.")
		return
	}
	if res.err != nil {
		page(w, http.StatusBadRequest, "Sign-in failed", res.err.Error()+". You can close this window.")
		return
	}
	var o Outcome
	select {
	case o = <-res.reply:
	case <-cb.done:
		// The flow replies before it ends: prefer its answer.
		select {
		case o = <-res.reply:
		default:
			o = Outcome{Failure: "the sign-in ended"}
		}
	case <-r.Context().Done():
		return
	}
	if o.Failure != "" {
		status := http.StatusBadGateway
		if o.Forbidden {
			status = http.StatusForbidden
		}
		page(w, status, "Sign-in failed", o.Failure+". You can close this window.")
		return
	}
	http.Redirect(w, r, "/success", http.StatusFound)
}

// oauthCode keeps an OAuth error code (RFC 6749 section 4.1.2.1: a
// restricted character set) safe to echo; anything else is "an error".
func oauthCode(s string) string {
	if len(s) > 64 {
		return "an error"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "an error"
		}
	}
	return s
}

// page writes a small HTML page. Pages never hold a secret.
func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>%s</title></head><body><h1>%s</h1><p>%s</p></body></html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(body))
}
