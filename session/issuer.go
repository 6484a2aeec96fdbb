package session

import (
	"context"

	"github.com/codex-auth/codex-auth/session/oauth"
	"github.com/codex-auth/codex-auth/session/openai"
)

// The seam's vocabulary lives in package oauth, beside the clients that
// speak it; these names keep the session's callers (rpc, cmd) in one
// import.
type (
	TokenSet         = oauth.TokenSet
	AuthorizeRequest = oauth.AuthorizeRequest
	DeviceCode       = oauth.DeviceCode
	DeviceGrant      = oauth.DeviceGrant
	IssuerError      = oauth.IssuerError
	RefreshReason    = oauth.RefreshReason
)

// The refresh reasons Codex sends.
const (
	RefreshProactive = oauth.RefreshProactive
	RefreshForced    = oauth.RefreshForced
)

// ErrInvalidResponse: the issuer's answer is not what the protocol says.
var ErrInvalidResponse = oauth.ErrInvalidResponse

// OpenAI's issuer is one implementation of the seam.
var _ Issuer = (*openai.Issuer)(nil)

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
