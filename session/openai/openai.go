package openai

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
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/codex-auth/codex-auth/session/oauth"
)

// DefaultIssuer is OpenAI's sign-in server, the Codex CLI's default.
const DefaultIssuer = "https://auth.openai.com"

// DefaultClientID is the Codex CLI's public OAuth client id, the one
// OpenAI's issuer knows for this flow.
const DefaultClientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// DefaultOriginator is the originator the Codex CLI sends on the
// authorize URL. OpenAI's issuer uses it to pick the sign-in page; it is
// the value known to work, so codex-auth sends it too by default.
const DefaultOriginator = "codex_cli_rs"

// openaiMaxBody bounds every response body read from the issuer.
const openaiMaxBody = 1 << 20

// openaiScope is the scope Codex asks for (OpenID Connect Core 1.0
// section 3.1.2.1 plus offline_access for a refresh token).
const openaiScope = "openid profile email offline_access"

// Config configures an Issuer.
type Config struct {
	// Issuer is the base URL (default DefaultIssuer). It must be https,
	// or http on a loopback host (a local issuer in tests and dev).
	Issuer string
	// ClientID is the OAuth client id (default DefaultClientID).
	ClientID string
	// HTTP does every request. Required, with a non-zero Timeout.
	HTTP *http.Client
	// Originator is sent on the authorize URL when the request names none
	// (default DefaultOriginator).
	Originator string
	// RefreshURL overrides the refresh endpoint (default Issuer +
	// "/oauth/token"), as the Codex CLI's CODEX_REFRESH_TOKEN_URL_OVERRIDE.
	RefreshURL string
}

// Issuer speaks OpenAI's sign-in endpoints (docs/local-issuer.md lists
// them, as the local issuer serves them). It is safe for concurrent use
// and keeps no request's context.
type Issuer struct {
	base       string
	clientID   string
	http       *http.Client
	originator string
	refreshURL string
}

// New validates cfg, fills in defaults and builds the issuer.
// Errors are *ConfigError.
func New(cfg Config) (*Issuer, error) {
	if cfg.HTTP == nil {
		return nil, &ConfigError{Field: "Config.HTTP", Reason: "an HTTP client is required"}
	}
	if cfg.HTTP.Timeout <= 0 {
		return nil, &ConfigError{Field: "Config.HTTP", Reason: "the HTTP client must have a timeout"}
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	base, err := openaiCheckURL("Config.Issuer", cfg.Issuer)
	if err != nil {
		return nil, err
	}
	base = strings.TrimRight(base, "/")
	refresh := base + "/oauth/token"
	if cfg.RefreshURL != "" {
		if refresh, err = openaiCheckURL("Config.RefreshURL", cfg.RefreshURL); err != nil {
			return nil, err
		}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.Originator == "" {
		cfg.Originator = DefaultOriginator
	}
	// Never follow a redirect (the Codex CLI does not either): a 307 or
	// 308 would re-send the body (a refresh token, a code verifier, an
	// ID token) to wherever it points, plain http included. A copy, so
	// the caller's client keeps its own policy.
	hc := *cfg.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Issuer{
		base:       base,
		clientID:   cfg.ClientID,
		http:       &hc,
		originator: cfg.Originator,
		refreshURL: refresh,
	}, nil
}

// openaiCheckURL accepts an absolute https URL, or http on a loopback host
// (RFC 6749 section 3.1 and 3.2 require TLS for these endpoints; a local
// issuer is the one exception).
func openaiCheckURL(field, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", &ConfigError{Field: field, Reason: "must be an absolute http(s) URL without query or fragment"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !openaiLoopback(u.Hostname()) {
			return "", &ConfigError{Field: field, Reason: "plain http is allowed only on a loopback host"}
		}
	default:
		return "", &ConfigError{Field: field, Reason: "must be an https URL"}
	}
	return u.String(), nil
}

// openaiLoopback reports whether host is localhost or a loopback address.
func openaiLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Base is the issuer's base URL, without a trailing slash.
func (o *Issuer) Base() string { return o.base }

// IsDefault reports whether this is OpenAI's own issuer.
func (o *Issuer) IsDefault() bool { return o.base == DefaultIssuer }

// AuthorizeURL builds the browser login URL: an authorization request
// (RFC 6749 section 4.1.1) with a PKCE S256 challenge (RFC 7636 section
// 4.3) and the parameters the Codex CLI adds.
func (o *Issuer) AuthorizeURL(r oauth.AuthorizeRequest) string {
	originator := r.Originator
	if originator == "" {
		originator = o.originator
	}
	q := url.Values{
		"response_type":              {"code"},
		"client_id":                  {o.clientID},
		"redirect_uri":               {r.RedirectURI},
		"scope":                      {openaiScope},
		"code_challenge":             {oauth2.S256ChallengeFromVerifier(r.Verifier)},
		"code_challenge_method":      {"S256"},
		"state":                      {r.State},
		"id_token_add_organizations": {"true"},
		"codex_cli_simplified_flow":  {"true"},
		"originator":                 {originator},
	}
	if len(r.AllowedWorkspaces) > 0 {
		q.Set("allowed_workspace_id", strings.Join(r.AllowedWorkspaces, ","))
	}
	return o.base + "/oauth/authorize?" + q.Encode()
}

// openaiTokenResponse is a token endpoint answer (RFC 6749 section 5.1).
type openaiTokenResponse struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (tr openaiTokenResponse) tokenSet() oauth.TokenSet {
	return oauth.TokenSet{IDToken: tr.IDToken, AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken}
}

// Exchange redeems an authorization code with its PKCE verifier (RFC 6749
// section 4.1.3, RFC 7636 section 4.5). The answer must carry all three
// tokens; otherwise the error wraps oauth.ErrInvalidResponse.
//
// It is not golang.org/x/oauth2's Config.Exchange: that flattens read and
// parse failures into text, so a dropped connection could not be told from
// a lying server without matching messages; every endpoint here shares one
// error translation instead.
func (o *Issuer) Exchange(ctx context.Context, code, verifier, redirectURI string) (oauth.TokenSet, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {o.clientID},
		"code_verifier": {verifier},
	}
	var tr openaiTokenResponse
	if err := o.post(ctx, "code exchange", o.base+"/oauth/token", openaiForm(form), &tr); err != nil {
		return oauth.TokenSet{}, err
	}
	if err := openaiRequire("code exchange", map[string]string{
		"id_token": tr.IDToken, "access_token": tr.AccessToken, "refresh_token": tr.RefreshToken,
	}); err != nil {
		return oauth.TokenSet{}, err
	}
	return tr.tokenSet(), nil
}

// Refresh redeems a refresh token (RFC 6749 section 6). Like the Codex CLI
// 0.171 it posts JSON; each returned token is optional (an empty one keeps
// the stored value). A rejected token is an *oauth.IssuerError whose Permanent
// reports whether the session is dead.
func (o *Issuer) Refresh(ctx context.Context, refreshToken string, reason oauth.RefreshReason) (oauth.TokenSet, error) {
	body := map[string]string{
		"client_id":      o.clientID,
		"grant_type":     "refresh_token",
		"refresh_reason": string(reason),
		"refresh_token":  refreshToken,
	}
	var tr openaiTokenResponse
	if err := o.post(ctx, "refresh", o.refreshURL, openaiJSON(body), &tr); err != nil {
		return oauth.TokenSet{}, err
	}
	return tr.tokenSet(), nil
}

// ExchangeAPIKey trades an ID token for an API key with a token exchange
// (RFC 8693 section 2.1), as the Codex CLI does after a login.
func (o *Issuer) ExchangeAPIKey(ctx context.Context, idToken string) (string, error) {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id":          {o.clientID},
		"requested_token":    {"openai-api-key"},
		"subject_token":      {idToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := o.post(ctx, "API key exchange", o.base+"/oauth/token", openaiForm(form), &tr); err != nil {
		return "", err
	}
	if err := openaiRequire("API key exchange", map[string]string{"access_token": tr.AccessToken}); err != nil {
		return "", err
	}
	return tr.AccessToken, nil
}

// Revoke revokes a token (RFC 7009 section 2.1) with the JSON body the
// Codex CLI sends. An unknown token is success (RFC 7009 section 2.2).
func (o *Issuer) Revoke(ctx context.Context, token, hint string) error {
	body := map[string]string{"token": token, "token_type_hint": hint, "client_id": o.clientID}
	return o.post(ctx, "revoke", o.base+"/oauth/revoke", openaiJSON(body), nil)
}

// DeviceStart asks for a user code (OpenAI's device flow, not RFC 8628).
// A 404 means device login is off for this workspace or server:
// oauth.ErrDeviceCodeDisabled. The interval may be a string of seconds (as
// OpenAI sends) or a number; a missing or unusable one is 0, which the
// polling loop replaces with its default.
func (o *Issuer) DeviceStart(ctx context.Context) (oauth.DeviceCode, error) {
	var r struct {
		DeviceAuthID string          `json:"device_auth_id"`
		UserCode     string          `json:"user_code"`
		UserCodeAlt  string          `json:"usercode"`
		Interval     json.RawMessage `json:"interval"`
	}
	err := o.post(ctx, "device code start", o.base+"/api/accounts/deviceauth/usercode",
		openaiJSON(map[string]string{"client_id": o.clientID}), &r)
	var ie *oauth.IssuerError
	if errors.As(err, &ie) && ie.Status == http.StatusNotFound {
		// Not the *oauth.IssuerError: callers see one kind of error, this one.
		return oauth.DeviceCode{}, fmt.Errorf("%w (%s)", oauth.ErrDeviceCodeDisabled, httpStatusText(ie.Status))
	}
	if err != nil {
		return oauth.DeviceCode{}, err
	}
	if r.UserCode == "" {
		r.UserCode = r.UserCodeAlt
	}
	if err := openaiRequire("device code start", map[string]string{
		"device_auth_id": r.DeviceAuthID, "user_code": r.UserCode,
	}); err != nil {
		return oauth.DeviceCode{}, err
	}
	return oauth.DeviceCode{
		DeviceAuthID:    r.DeviceAuthID,
		UserCode:        r.UserCode,
		VerificationURL: o.base + "/codex/device",
		Interval:        openaiInterval(r.Interval),
	}, nil
}

// openaiInterval reads an interval in whole seconds given as a string or a
// number; anything else (absent, negative, over an hour) is 0.
func openaiInterval(raw json.RawMessage) time.Duration {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n <= 0 || n > 3600 {
		return 0
	}
	return time.Duration(n * float64(time.Second))
}

// DevicePoll asks once whether the user approved the code. 403 and 404
// mean pending (oauth.ErrDevicePending), as OpenAI answers; 200 carries an
// authorization code and the server-made PKCE verifier, to exchange with
// redirect_uri Base()+"/deviceauth/callback". Any other answer is an
// *oauth.IssuerError (a denied code is 400 access_denied as RFC 8628 section
// 3.5) or wraps oauth.ErrIssuerUnavailable.
func (o *Issuer) DevicePoll(ctx context.Context, dc oauth.DeviceCode) (oauth.DeviceGrant, error) {
	var r struct {
		AuthorizationCode string `json:"authorization_code"`
		CodeVerifier      string `json:"code_verifier"`
	}
	err := o.post(ctx, "device code poll", o.base+"/api/accounts/deviceauth/token",
		openaiJSON(map[string]string{"device_auth_id": dc.DeviceAuthID, "user_code": dc.UserCode}), &r)
	var ie *oauth.IssuerError
	if errors.As(err, &ie) && (ie.Status == http.StatusForbidden || ie.Status == http.StatusNotFound) {
		return oauth.DeviceGrant{}, oauth.ErrDevicePending
	}
	if err != nil {
		return oauth.DeviceGrant{}, err
	}
	if err := openaiRequire("device code poll", map[string]string{
		"authorization_code": r.AuthorizationCode, "code_verifier": r.CodeVerifier,
	}); err != nil {
		return oauth.DeviceGrant{}, err
	}
	return oauth.DeviceGrant{
		AuthorizationCode: r.AuthorizationCode,
		CodeVerifier:      r.CodeVerifier,
		RedirectURI:       o.base + "/deviceauth/callback",
	}, nil
}

// openaiBody is a request body and its Content-Type.
type openaiBody struct {
	contentType string
	data        []byte
}

func openaiForm(v url.Values) openaiBody {
	return openaiBody{"application/x-www-form-urlencoded", []byte(v.Encode())}
}

func openaiJSON(v map[string]string) openaiBody {
	b, _ := json.Marshal(v) // a map of strings always marshals
	return openaiBody{"application/json", b}
}

// post sends body to endpoint and decodes a 2xx JSON answer into out (nil:
// the body is ignored). It is the one place issuer answers become errors:
//   - the caller's cancellation: an error wrapping context.Canceled;
//   - network errors, timeouts, 5xx and 429: wrapping oauth.ErrIssuerUnavailable;
//   - a redirect (3xx, never followed): wrapping oauth.ErrIssuerRedirect too;
//   - other non-2xx: *oauth.IssuerError with the status and error code;
//   - a 2xx body that is not the expected JSON: wrapping oauth.ErrInvalidResponse.
//
// Error messages name the operation, never a token or a response body.
func (o *Issuer) post(ctx context.Context, op, endpoint string, body openaiBody, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body.data))
	if err != nil {
		return fmt.Errorf("%s: building the request: %w", op, err)
	}
	req.Header.Set("Content-Type", body.contentType)
	req.Header.Set("Accept", "application/json")
	resp, err := o.http.Do(req)
	if err != nil {
		return openaiNetError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, openaiMaxBody+1))
	if err != nil {
		return openaiNetError(ctx, op, err)
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s: %s", oauth.ErrIssuerUnavailable, op, httpStatusText(resp.StatusCode))
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		// Not followed (see New); the Location is not
		// repeated, it may carry what the request did.
		return fmt.Errorf("%w: %w: %s: %s", oauth.ErrIssuerUnavailable, oauth.ErrIssuerRedirect, op, httpStatusText(resp.StatusCode))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return openaiIssuerError(resp.StatusCode, data)
	case len(data) > openaiMaxBody:
		return fmt.Errorf("%w: %s: the answer is too large", oauth.ErrInvalidResponse, op)
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// The error from encoding/json may quote the body: keep only its kind.
		return fmt.Errorf("%w: %s: the answer is not the expected JSON", oauth.ErrInvalidResponse, op)
	}
	return nil
}

// openaiNetError wraps a transport failure. The caller's own cancellation
// stays a cancellation; everything else (refused, reset, timeouts of the
// client or of ctx) means the issuer is unavailable. The cause is kept for
// logs: it names the URL and the network error, never a body.
func openaiNetError(ctx context.Context, op string, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", op, context.Canceled)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is the endpoint's; the op already names it
	}
	return fmt.Errorf("%w: %s: %w", oauth.ErrIssuerUnavailable, op, err)
}

// openaiIssuerError parses an error answer: RFC 6749 section 5.2's
// {"error": "invalid_grant", "error_description": ...} or OpenAI's
// {"error": {"code": "refresh_token_reused", "message": ...}}. A body in
// neither shape still gives the status.
func openaiIssuerError(status int, data []byte) *oauth.IssuerError {
	e := &oauth.IssuerError{Status: status}
	var raw struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Code             string          `json:"code"`
		Message          string          `json:"message"`
	}
	if json.Unmarshal(data, &raw) != nil {
		return e
	}
	var code string
	var nested struct {
		Code    string `json:"code"`
		Type    string `json:"type"`
		Message string `json:"message"`
	}
	switch {
	case json.Unmarshal(raw.Error, &code) == nil:
		e.Code, e.Description = code, raw.ErrorDescription
	case json.Unmarshal(raw.Error, &nested) == nil:
		e.Code, e.Description = nested.Code, nested.Message
		if e.Code == "" {
			e.Code = nested.Type
		}
	default:
		e.Code, e.Description = raw.Code, raw.Message
	}
	e.Code = openaiClip(e.Code, 64)
	e.Description = openaiClip(e.Description, 200)
	return e
}

// openaiClip bounds a server-given string.
func openaiClip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// openaiRequire fails with oauth.ErrInvalidResponse naming the first empty field
// (in a stable order).
func openaiRequire(op string, fields map[string]string) error {
	var missing []string
	for k, v := range fields {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%w: %s: the answer has no %s", oauth.ErrInvalidResponse, op, strings.Join(missing, ", "))
}

// ConfigError: a Config field is wrong (the issuer URL, the HTTP client).
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Reason }

func httpStatusText(code int) string { return fmt.Sprintf("HTTP %d", code) }
