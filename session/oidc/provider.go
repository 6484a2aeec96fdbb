package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// DefaultTimeout bounds every request when Config.HTTP is nil.
const DefaultTimeout = 30 * time.Second

// defaultScopes are asked for when Config.Scopes is empty: an ID token
// with the user's name and email, and a refresh token (OpenID Connect
// Core 1.0 sections 5.4 and 11).
var defaultScopes = []string{"openid", "profile", "email", "offline_access"}

// Leeway is the clock skew allowed when checking an ID token's exp and
// iat.
const Leeway = time.Minute

// maxBody bounds every response body read from the provider.
const maxBody = 1 << 20

// Config names a provider and this app's registration with it.
type Config struct {
	// Issuer is the provider's issuer identifier, exactly as its discovery
	// document gives it (OpenID Connect Discovery 1.0 section 4.3). It
	// must be https, or http on a loopback host.
	Issuer string
	// ClientID is the app's client id at the provider. Required.
	ClientID string
	// ClientSecret is empty for a public client (the usual case for a
	// native app, RFC 8252 section 8.4); PKCE protects the code either way.
	ClientSecret string
	// Scopes to ask for (default "openid profile email offline_access":
	// the user's name and email, and a refresh token); "openid" is added
	// when missing.
	Scopes []string
	// Audience, when set, is sent as the audience parameter on the
	// authorization and device requests (Auth0 and others use it to pick
	// the API the access token is for). It does not change the ID token's
	// aud, which is always ClientID.
	Audience string
	// HTTP does every request. It must have a Timeout; nil: a client with
	// DefaultTimeout. Its CheckRedirect is not used: redirects are never
	// followed.
	HTTP *http.Client
	// Now is the clock for ID token checks (default time.Now).
	Now func() time.Time
}

// Provider is one OpenID provider with this app's registration. Make it
// with New. It is safe for concurrent use and keeps no request's context.
type Provider struct {
	cfg    Config
	scopes []string
	http   *http.Client // cfg.HTTP with bodies read inside RoundTrip
	now    func() time.Time

	mu   sync.Mutex
	meta *Metadata
	// rediscovered is when discovery was last fetched again after a call
	// failed; it bounds how often that happens.
	rediscovered time.Time

	keys keySet
}

// New checks cfg and fetches the provider's discovery document (OpenID
// Connect Discovery 1.0 section 4, RFC 8414 section 3). Errors: a
// *ConfigError (errors.Is(err, ErrInvalidConfig)) for cfg, including an
// issuer that does not match the document's; ErrUnavailable,
// *ProviderError or ErrInvalidResponse for the fetch.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := CheckConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = slices.Clone(defaultScopes)
	}
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	// slurp applies the timeout itself, around the request and the whole
	// body, so the client needs none of its own. A redirect is never
	// followed, whatever cfg.HTTP's policy: a 307 or 308 would send the
	// body (a refresh token, a code and its verifier) again to wherever it
	// points, and any redirect a userinfo request's bearer token on the
	// same host; the 3xx is the answer (a *ProviderError).
	hc := &http.Client{
		Transport:     &slurp{base: cfg.HTTP.Transport, timeout: cfg.HTTP.Timeout},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Jar:           cfg.HTTP.Jar,
	}
	p := &Provider{cfg: cfg, scopes: scopes, http: hc, now: cfg.Now}
	p.keys.p = p
	m, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	p.meta = m
	return p, nil
}

// CheckConfig is New's check of cfg, without fetching anything: a
// *ConfigError (errors.Is(err, ErrInvalidConfig)) names the field. A
// caller that discovers the provider later (when it is first needed)
// checks the configuration at once with it.
func CheckConfig(cfg Config) error {
	if cfg.Issuer == "" {
		return &ConfigError{Field: "issuer", Reason: "is required"}
	}
	if err := checkEndpoint(cfg.Issuer); err != nil {
		return &ConfigError{Field: "issuer", Reason: err.Error()}
	}
	if u, _ := url.Parse(cfg.Issuer); u.RawQuery != "" || u.ForceQuery {
		// OpenID Connect Core 1.0 section 2 (iss): no query or fragment.
		return &ConfigError{Field: "issuer", Reason: "must have no query"}
	}
	if cfg.ClientID == "" {
		return &ConfigError{Field: "client_id", Reason: "is required"}
	}
	if cfg.HTTP != nil && cfg.HTTP.Timeout <= 0 {
		return &ConfigError{Field: "HTTP", Reason: "the HTTP client must have a timeout"}
	}
	return nil
}

// Issuer is the provider's issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// ClientID is the app's client id.
func (p *Provider) ClientID() string { return p.cfg.ClientID }

// Metadata returns a copy of the discovery document in use.
func (p *Provider) Metadata() Metadata {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := *p.meta
	return m
}

func (p *Provider) metadata() *Metadata {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta
}

// oauth2Config is the x/oauth2 view of the current endpoints.
func (p *Provider) oauth2Config(m *Metadata, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:       m.AuthorizationEndpoint,
			TokenURL:      m.TokenEndpoint,
			DeviceAuthURL: m.DeviceAuthorizationEndpoint,
			AuthStyle:     p.authStyle(m.TokenEndpointAuthMethods),
		},
		RedirectURL: redirectURI,
		Scopes:      p.scopes,
	}
}

// authStyle picks how the client authenticates at the token endpoint
// (RFC 6749 section 2.3.1): a public client sends only client_id in the
// form (section 2.1 and 3.2.1); a confidential one uses
// client_secret_basic unless the provider advertises only
// client_secret_post (an absent list means client_secret_basic, OpenID
// Connect Discovery 1.0 section 3).
func (p *Provider) authStyle(methods []string) oauth2.AuthStyle {
	if p.cfg.ClientSecret == "" {
		return oauth2.AuthStyleInParams
	}
	if len(methods) == 0 || slices.Contains(methods, "client_secret_basic") {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// ctx gives x/oauth2 our HTTP client.
func (p *Provider) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.http)
}

// rediscoverEvery bounds how often a failing call fetches discovery again.
const rediscoverEvery = 30 * time.Second

// withEndpoints runs call with the current metadata. When it fails with a
// sign that an endpoint moved (404 Not Found, 405, 410 Gone from an
// endpoint the discovery document named), discovery is fetched again (at
// most once per rediscoverEvery) and, if any endpoint changed, call is
// retried once with the new ones. A request that got a 404 was not
// processed, so the retry is safe. Other failures keep the cache: a
// provider that is down does not lose its endpoints.
func (p *Provider) withEndpoints(ctx context.Context, call func(*Metadata) error) error {
	m := p.metadata()
	err := call(m)
	if !moved(err) {
		return err
	}
	p.mu.Lock()
	if p.meta != m || p.now().Sub(p.rediscovered) < rediscoverEvery {
		cur := p.meta
		p.mu.Unlock()
		if cur != m {
			return call(cur)
		}
		return err
	}
	p.rediscovered = p.now()
	p.mu.Unlock()
	nm, derr := p.discover(ctx)
	if derr != nil || nm.sameEndpoints(m) {
		return err
	}
	p.mu.Lock()
	p.meta = nm
	p.mu.Unlock()
	return call(nm)
}

// moved reports whether err says the endpoint is not there any more.
func moved(err error) bool {
	var pe *ProviderError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusGone:
		return true
	}
	return false
}

// checkEndpoint accepts an absolute https URL, or http on a loopback host
// (RFC 6749 sections 3.1 and 3.2 require TLS; a local provider in tests
// and development is the exception), with no query or fragment.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("must be an absolute https URL without user or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http is allowed only on a loopback host")
	}
	return fmt.Errorf("must be an https URL")
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// getJSON fetches url and decodes a 200 JSON answer into out, with the
// same error translation as token requests.
func (p *Provider) getJSON(ctx context.Context, op, u string, out any) error {
	return p.getJSONAuth(ctx, op, u, "", out)
}

// getJSONAuth is getJSON with a bearer token (RFC 6750 section 2.1).
func (p *Provider) getJSONAuth(ctx context.Context, op, u, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: building the request: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return classify(ctx, op, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body) // already in memory (slurp)
	if resp.StatusCode != http.StatusOK {
		return answerError(op, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		// encoding/json's error may quote the body: keep only its kind.
		return fmt.Errorf("%w: %s: the answer is not the expected JSON", ErrInvalidResponse, op)
	}
	return nil
}

// answerError is a non-success answer as a *ProviderError, with the RFC
// 6749 section 5.2 error code when the body has one.
func answerError(op string, status int, data []byte) *ProviderError {
	e := &ProviderError{Op: op, Status: status}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code = clip(body.Error, 64)
		e.Description = clip(body.ErrorDescription, 200)
	}
	return e
}

// slurp reads each response body inside RoundTrip, bounded by maxBody, so
// that a connection cut mid-body is a transport error (which x/oauth2
// passes on as a *url.Error) rather than text, and an oversized answer
// wraps ErrInvalidResponse. The caller's Timeout bounds the request and
// the body together, as http.Client.Timeout would. It also counts
// slow_down answers for a device flow that asked (see device.go).
//
// (x/oauth2's DeviceAuth never closes the response body; with
// http.Client.Timeout on a wrapped transport that would leave a timer
// goroutine behind for the whole timeout.)
type slurp struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (s *slurp) RoundTrip(req *http.Request) (*http.Response, error) {
	base := s.base
	if base == nil {
		base = http.DefaultTransport
	}
	ctx, cancel := context.WithTimeout(req.Context(), s.timeout)
	defer cancel()
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("%w: the answer is too large", ErrInvalidResponse)
	}
	if c, ok := req.Context().Value(slowDownKey{}).(*slowDownCounter); ok && resp.StatusCode == http.StatusBadRequest {
		c.observe(data)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}
