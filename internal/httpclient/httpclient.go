package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds a whole request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is sent until SetUserAgent names the editor.
const DefaultUserAgent = "codex-auth"

// maxUserAgent bounds the User-Agent header, in bytes.
const maxUserAgent = 256

// Options configure New.
type Options struct {
	// Timeout bounds each whole request, body included (default 30s); the
	// dial, TLS handshake and response headers are each bounded by it too
	// (dial and handshake by at most 10s).
	Timeout time.Duration
	// UserAgent is the User-Agent header (default "codex-auth").
	UserAgent string
	// Getenv reads the environment (default os.Getenv): HTTPS_PROXY,
	// HTTP_PROXY, NO_PROXY (and their lower-case forms),
	// CODEX_CA_CERTIFICATE and SSL_CERT_FILE.
	Getenv func(string) string
}

// Client is the shared HTTP client. Safe for concurrent use.
type Client struct {
	http *http.Client
	ua   atomic.Pointer[string]
}

// New builds a Client. It fails with an error wrapping ErrCABundle when
// the CA bundle named by CODEX_CA_CERTIFICATE or SSL_CERT_FILE cannot be
// read or holds no certificate.
func New(o Options) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Getenv == nil {
		o.Getenv = osGetenv
	}
	roots, err := loadRoots(o.Getenv)
	if err != nil {
		return nil, err
	}
	step := min(o.Timeout, 10*time.Second)
	tr := &http.Transport{
		Proxy:                 proxyFunc(o.Getenv),
		DialContext:           (&net.Dialer{Timeout: step, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   step,
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          10,
		ForceAttemptHTTP2:     true,
	}
	var base http.RoundTripper = tr
	if roots != nil {
		base = &rootsTransport{tr: tr, roots: roots}
	}
	c := &Client{}
	ua := sanitizeUserAgent(o.UserAgent)
	c.ua.Store(&ua)
	c.http = &http.Client{
		Timeout:   o.Timeout,
		Transport: &uaTransport{base: base, ua: &c.ua},
		// Every call goes to the issuer with a secret in its body; a
		// 307/308 would re-send it wherever it points. The caller gets
		// the 3xx itself (session maps it to a clear error).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// HTTP is the *http.Client to make requests with (with a context each).
func (c *Client) HTTP() *http.Client { return c.http }

// SetUserAgent sets the User-Agent of every later request, e.g.
// "codex-auth/0.1.0 (vscode 1.99)". The value is made a valid header
// value first (it carries what the editor sent as clientInfo): see
// sanitizeUserAgent.
func (c *Client) SetUserAgent(product string) {
	product = sanitizeUserAgent(product)
	c.ua.Store(&product)
}

// sanitizeUserAgent makes ua a valid, one-line HTTP header value of
// printable ASCII (RFC 9110 section 5.5: a sender should not generate
// obs-text): CR, LF and tabs become spaces, other control characters are
// dropped, anything outside ASCII becomes '?', runs of spaces collapse,
// and the result is cut to maxUserAgent bytes. Empty means
// DefaultUserAgent.
func sanitizeUserAgent(ua string) string {
	var b strings.Builder
	space := false
	for _, r := range ua {
		switch {
		case r == '\r' || r == '\n' || r == '\t' || r == ' ':
			space = b.Len() > 0
			continue
		case r < 0x20 || r == 0x7f:
			continue
		case r > 0x7e:
			r = '?'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len() >= maxUserAgent {
			break
		}
		b.WriteRune(r)
	}
	out := b.String()
	if out == "" {
		return DefaultUserAgent
	}
	return out
}

// UserAgent is the User-Agent requests carry now.
func (c *Client) UserAgent() string { return *c.ua.Load() }

// CloseIdleConnections closes idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// rootsTransport installs the CA pool on the transport before its first
// request (see loadRoots); the transport is not used before that.
type rootsTransport struct {
	once  sync.Once
	tr    *http.Transport
	roots func() *x509.CertPool
}

func (t *rootsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(func() { t.tr.TLSClientConfig.RootCAs = t.roots() })
	return t.tr.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (t *rootsTransport) CloseIdleConnections() { t.tr.CloseIdleConnections() }

// uaTransport sets the User-Agent on a copy of each request.
type uaTransport struct {
	base http.RoundTripper
	ua   *atomic.Pointer[string]
}

// RoundTrip implements http.RoundTripper without changing req.
func (t *uaTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", *t.ua.Load())
	return t.base.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the transport.
func (t *uaTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Unreachable is a Client whose every request fails with err: for the
// commands that must still work when New failed (a logout removes the
// local credentials without revoking them).
func Unreachable(err error) *Client {
	c := &Client{}
	ua := DefaultUserAgent
	c.ua.Store(&ua)
	c.http = &http.Client{Transport: failingTransport{err: err}, Timeout: DefaultTimeout}
	return c
}

// failingTransport fails every request with err.
type failingTransport struct{ err error }

func (t failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, t.err }
