package oauth

import (
	"errors"
	"fmt"
	"time"
)

// Errors every issuer client returns (wrapped with %w).
var (
	// ErrIssuerUnavailable: network error, timeout or 5xx at the issuer.
	ErrIssuerUnavailable = errors.New("the sign-in server is unavailable")
	// ErrIssuerRedirect: the issuer answered with a redirect, which is
	// never followed (the request carries a token or a code verifier).
	// Errors wrapping it also wrap ErrIssuerUnavailable.
	ErrIssuerRedirect = errors.New("the sign-in server answered with a redirect, which codex-auth does not follow; check the issuer URL (and any proxy in between)")
	// ErrInvalidResponse: the issuer's answer is not what the protocol says.
	ErrInvalidResponse = errors.New("the sign-in server sent an invalid response")
	// ErrDeviceCodeDisabled: the issuer answered 404 to the device-code start.
	ErrDeviceCodeDisabled = errors.New("device code login is not enabled for this workspace or server; use the browser login")
	// ErrDevicePending: the device code has not been approved yet.
	ErrDevicePending = errors.New("device authorization pending")
)

// TokenSet is what a code exchange or refresh returns. On refresh each
// field is optional: an empty one keeps the stored value.
type TokenSet struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	// Expiry is when the access token expires, as the answer said
	// (expires_in); zero when it did not (OpenAI's tokens carry exp).
	Expiry time.Time
	// Subject, Email and Name are the user the tokens are for, from an
	// ID token the client verified (an OpenID provider's; "" when the
	// answer had none, as a refresh may).
	Subject string
	Email   string
	Name    string
}

// AuthorizeRequest is what a browser login puts in the authorize URL.
type AuthorizeRequest struct {
	RedirectURI string
	State       string
	Verifier    string // the PKCE verifier; the URL carries its S256 challenge
	// Nonce is an OpenID provider's nonce (OpenID Connect Core 1.0
	// section 3.1.2.1), checked in the ID token the code brings.
	Nonce             string
	AllowedWorkspaces []string
	Originator        string
}

// DeviceCode is the issuer's answer to a device-code start.
type DeviceCode struct {
	// DeviceAuthID is what redeems the approval (OpenAI's
	// device_auth_id, RFC 8628's device_code): never shown.
	DeviceAuthID    string
	UserCode        string
	VerificationURL string
	// VerificationURLComplete holds the user code too (RFC 8628 section
	// 3.3.1), when the server gives one.
	VerificationURLComplete string
	Interval                time.Duration
	// ExpiresAt is when the code expires, when the server said
	// (expires_in); zero otherwise.
	ExpiresAt time.Time
}

// DeviceGrant is what a successful device poll returns: a code to exchange
// with the server-made verifier.
type DeviceGrant struct {
	AuthorizationCode string
	CodeVerifier      string
	RedirectURI       string
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
	msg := "sign-in server answered " + fmt.Sprintf("HTTP %d", e.Status)
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
