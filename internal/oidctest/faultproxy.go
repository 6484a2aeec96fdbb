package oidctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/httpfault"
)

// The provider's endpoint paths, as its discovery document names them
// (behind a FaultProxy, faults are armed on these).
const (
	PathDiscovery           = "/.well-known/openid-configuration"
	PathKeys                = "/keys"
	PathToken               = "/oauth/token"
	PathDeviceAuthorization = "/device_authorization"
	PathRevoke              = "/revoke"
	PathUserinfo            = "/userinfo"
	PathAuthorize           = "/auth"
)

// PathRedirected is where FaultRedirect points, on the proxy itself: a
// client that follows the redirect lands there and is counted
// (FaultProxy.RedirectsFollowed).
const PathRedirected = "/fault/redirected"

// FaultKind names what a Fault does to a request.
type FaultKind string

// The fault kinds. Those marked "forwarded" let the provider do the work
// first (a code is spent, a refresh token rotates) and spoil its answer;
// the others answer in the provider's place, which never sees the
// request.
const (
	// FaultLatency holds the request for Latency, then forwards it; a
	// client that gives up meanwhile (its timeout shorter) closes the
	// connection and the request is never forwarded.
	FaultLatency FaultKind = "latency"
	// FaultStatus answers Status (default 503) with an RFC 6749 error
	// body (temporarily_unavailable).
	FaultStatus FaultKind = "status"
	// FaultReset closes the connection without an answer.
	FaultReset FaultKind = "reset"
	// FaultHTML answers Status (default 200) with an HTML page, as a
	// captive portal or a proxy's error page does.
	FaultHTML FaultKind = "html"
	// FaultRedirect answers Status (default 302) pointing to
	// PathRedirected on the proxy.
	FaultRedirect FaultKind = "redirect"
	// FaultTruncate (forwarded) sends the answer's headers, with its full
	// Content-Length, and half its body, then closes the connection.
	FaultTruncate FaultKind = "truncate"
	// FaultMalformed (forwarded) replaces the body with bytes that are not
	// JSON, keeping the status and the content type.
	FaultMalformed FaultKind = "malformed"
	// FaultContentType (forwarded) keeps the body and sends it as
	// ContentType (default text/plain).
	FaultContentType FaultKind = "content_type"
	// FaultMissingFields (forwarded) removes Fields from a 200 answer's
	// JSON object.
	FaultMissingFields FaultKind = "missing_fields"
)

// Fault is one fault armed on a path of the proxy.
type Fault struct {
	Kind FaultKind
	// Path is the request path it applies to (PathToken, ...): required.
	Path string
	// Count > 0 applies it to the next Count requests for Path; 0 keeps
	// it until Clear.
	Count int
	// Latency is FaultLatency's hold.
	Latency time.Duration
	// Status is FaultStatus's, FaultHTML's and FaultRedirect's status.
	Status int
	// ContentType is FaultContentType's content type.
	ContentType string
	// Fields are what FaultMissingFields removes.
	Fields []string
}

// FaultProxy is a reverse proxy in front of a provider that fails chosen
// requests. Its URL is the provider's issuer identifier, so discovery,
// the keys, every endpoint and the provider's pages are reached through
// it. It never follows redirects itself: the provider's own pass through
// to the client as they are. It keeps no connection alive.
type FaultProxy struct {
	// URL is the proxy's address and the issuer, http://127.0.0.1:PORT.
	URL string

	target string // the provider's own address
	client *http.Client
	done   chan struct{}

	mu        sync.Mutex
	faults    []Fault
	fired     map[string]int
	redirects int
	secrets   []string
}

// StartWithFaults runs a provider behind a FaultProxy until t ends: the
// proxy listens first and its URL is given to the provider as the
// issuer; the provider listens elsewhere and is reached only through the
// proxy. Server.Hits counts what reached the provider.
func StartWithFaults(t testing.TB) (*Server, *FaultProxy) {
	t.Helper()
	front := httptest.NewUnstartedServer(nil)
	back := httptest.NewUnstartedServer(nil)
	p := &FaultProxy{
		URL:    "http://" + front.Listener.Addr().String(),
		target: "http://" + back.Listener.Addr().String(),
		client: &http.Client{
			Transport:     &http.Transport{Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		done:  make(chan struct{}),
		fired: map[string]int{},
	}
	s := start(t, back, p.URL)
	front.Config.Handler = p
	// One connection per request: net/http retries an idempotent request
	// (a GET of the keys) once by itself when a reused connection is cut,
	// which would make a reset's effect depend on whether one was.
	front.Config.SetKeepAlivesEnabled(false)
	front.Start()
	t.Cleanup(func() {
		close(p.done) // ends held requests first
		front.Close()
	})
	return s, p
}

// Arm adds f; every armed fault matching a request applies, in the order
// armed.
func (p *FaultProxy) Arm(f Fault) {
	if f.Path == "" {
		panic("oidctest: a fault needs a path")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
}

// Clear disarms every fault.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Armed is how many faults are still armed (a count-limited one is
// disarmed once used up).
func (p *FaultProxy) Armed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.faults)
}

// Fired is how many times a fault applied to a request for path.
func (p *FaultProxy) Fired(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired[path]
}

// RedirectsFollowed is how many requests reached PathRedirected: a
// client that follows a FaultRedirect. It must stay 0.
func (p *FaultProxy) RedirectsFollowed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.redirects
}

// Secrets are the tokens (access_token, refresh_token, id_token,
// device_code) of every JSON answer the provider gave through the proxy,
// spoiled by a fault or not: none may appear in an error or a log.
func (p *FaultProxy) Secrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.secrets)
}

// note keeps the tokens of an answer.
func (p *FaultProxy) note(answer []byte) {
	var m map[string]any
	if json.Unmarshal(answer, &m) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range []string{"access_token", "refresh_token", "id_token", "device_code"} {
		if v, ok := m[k].(string); ok && v != "" {
			p.secrets = append(p.secrets, v)
		}
	}
}

// take returns the faults for path, using up one of each count-limited
// one.
func (p *FaultProxy) take(path string) []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Fault
	kept := p.faults[:0]
	for _, f := range p.faults {
		if f.Path == path {
			out = append(out, f)
			p.fired[path]++
			if f.Count > 0 {
				f.Count--
				if f.Count == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	p.faults = kept
	return out
}

// ServeHTTP forwards r to the provider under the faults armed for its
// path.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathRedirected {
		p.mu.Lock()
		p.redirects++
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"error": "redirect_followed"})
		return
	}
	// The body is read first: the server notices a client that hangs up
	// (r.Context() ends) only once it has.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the request", http.StatusBadRequest)
		return
	}
	faults := p.take(r.URL.Path)
	var after []Fault
	for _, f := range faults {
		switch f.Kind {
		case FaultLatency:
			if !httpfault.Wait(r.Context(), f.Latency, p.done) {
				return
			}
		case FaultStatus:
			writeJSON(w, or(f.Status, http.StatusServiceUnavailable), map[string]string{
				"error": "temporarily_unavailable", "error_description": "fault injected by the proxy"})
			return
		case FaultReset:
			httpfault.Drop(w)
			return
		case FaultHTML:
			httpfault.HTMLPage(w, or(f.Status, http.StatusOK))
			return
		case FaultRedirect:
			http.Redirect(w, r, PathRedirected, or(f.Status, http.StatusFound))
			return
		default:
			after = append(after, f)
		}
	}
	status, header, answer, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "the provider did not answer", http.StatusBadGateway)
		return
	}
	p.note(answer)
	cut := httpfault.Whole
	for _, f := range after {
		switch f.Kind {
		case FaultTruncate:
			cut = httpfault.Truncated
		case FaultMalformed:
			answer = []byte(httpfault.Malformed)
		case FaultContentType:
			ct := f.ContentType
			if ct == "" {
				ct = "text/plain; charset=utf-8"
			}
			header.Set("Content-Type", ct)
		case FaultMissingFields:
			answer = httpfault.RemoveFields(answer, status, f.Fields)
		}
	}
	httpfault.Write(w, header, status, answer, cut)
}

// forward sends r (with body) to the provider and reads its whole answer.
func (p *FaultProxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	u, err := url.Parse(p.target + r.URL.RequestURI())
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host // the provider sees the issuer's host
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	h := resp.Header.Clone()
	h.Del("Content-Length")
	return resp.StatusCode, h, answer, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
