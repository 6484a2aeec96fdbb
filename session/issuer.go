// issuer.go: the issuer seam. Flows depend on this interface; OpenAI's
// endpoints (openai.go) are one implementation, a future OpenID Connect
// provider ("oidc" kind, see ROADMAP) another.

package session

import (
	"context"
	"time"
)

// TokenSet is what a code exchange or refresh returns. On refresh each
// field is optional: an empty one keeps the stored value.
type TokenSet struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
}

// AuthorizeRequest is what a browser login puts in the authorize URL.
type AuthorizeRequest struct {
	RedirectURI       string
	State             string
	Verifier          string // the PKCE verifier; the URL carries its S256 challenge
	AllowedWorkspaces []string
	Originator        string
}

// DeviceCode is the issuer's answer to a device-code start.
type DeviceCode struct {
	DeviceAuthID    string
	UserCode        string
	VerificationURL string
	Interval        time.Duration
}

// DeviceGrant is what a successful device poll returns: a code to exchange
// with the server-made verifier.
type DeviceGrant struct {
	AuthorizationCode string
	CodeVerifier      string
	RedirectURI       string
}

// Issuer is everything a flow asks of the sign-in server. Every method
// honours ctx and the HTTP client's timeouts.
//
// Errors: *IssuerError for an answer the server gave (status, OAuth error
// code); errors wrapping ErrIssuerUnavailable for network failures,
// timeouts and 5xx; ErrDeviceCodeDisabled for a 404 on DeviceStart;
// ErrDevicePending from DevicePoll while the user has not yet approved.
type Issuer interface {
	// AuthorizeURL builds the browser URL (PKCE S256, Codex's parameters).
	AuthorizeURL(r AuthorizeRequest) string
	// Exchange redeems an authorization code (RFC 6749 4.1.3, RFC 7636).
	Exchange(ctx context.Context, code, verifier, redirectURI string) (TokenSet, error)
	// Refresh redeems a refresh token (RFC 6749 section 6); reason is
	// sent as Codex 0.171 sends refresh_reason.
	Refresh(ctx context.Context, refreshToken string, reason RefreshReason) (TokenSet, error)
	// ExchangeAPIKey trades an ID token for an API key (best effort).
	ExchangeAPIKey(ctx context.Context, idToken string) (string, error)
	// Revoke revokes a token (RFC 7009); hint is "refresh_token" or "access_token".
	Revoke(ctx context.Context, token, hint string) error
	// DeviceStart asks for a user code (OpenAI's device flow).
	DeviceStart(ctx context.Context) (DeviceCode, error)
	// DevicePoll asks once whether the code was approved.
	DevicePoll(ctx context.Context, dc DeviceCode) (DeviceGrant, error)
	// Base is the issuer's base URL; IsDefault reports OpenAI's.
	Base() string
	IsDefault() bool
}

// RefreshReason is why a refresh is made, as the Codex CLI 0.171 tells
// the token endpoint in refresh_reason.
type RefreshReason string

// The refresh reasons Codex sends.
const (
	// RefreshProactive: the access token expires soon (Codex's
	// "proactive_expiry"); also our background refresh ahead of Codex.
	RefreshProactive RefreshReason = "proactive_expiry"
	// RefreshForced: a caller asked for a new token (an editor that got
	// a 401, Codex's account/read {refreshToken:true}).
	RefreshForced RefreshReason = "forced"
)

// IssuerError is an answer from the issuer that is not success: the HTTP
// status and, when the body had one, the OAuth error code (RFC 6749
// section 5.2) or OpenAI's code (refresh_token_reused, ...).
type IssuerError struct {
	Status      int
	Code        string
	Description string
}

func (e *IssuerError) Error() string {
	msg := "sign-in server answered " + httpStatusText(e.Status)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	return msg
}

// Permanent reports whether a refresh failing with this error means the
// session is dead (401, invalid_grant, refresh_token_*).
func (e *IssuerError) Permanent() bool {
	switch {
	case e.Status == 401:
		return true
	case e.Code == "invalid_grant",
		e.Code == "refresh_token_expired",
		e.Code == "refresh_token_reused",
		e.Code == "refresh_token_invalidated":
		return true
	}
	return false
}
