package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"golang.org/x/oauth2"
)

// Sentinel errors. Each is matched with errors.Is.
var (
	// ErrUnavailable: the provider could not be reached or could not
	// answer now (refused, reset, a timeout, 5xx, 429). Retrying later may
	// help. A 5xx or 429 is also a *ProviderError (errors.As).
	ErrUnavailable = errors.New("the sign-in provider is unavailable")
	// ErrInvalidResponse: the provider answered success with a body that
	// cannot be used (not JSON, a required field missing, too large).
	ErrInvalidResponse = errors.New("the sign-in provider sent an invalid response")
	// ErrInvalidIDToken: an ID token failed a check (signature, issuer,
	// audience, expiry, nonce). Its *TokenError says which.
	ErrInvalidIDToken = errors.New("the sign-in provider's ID token is not valid")
	// ErrNotSupported: the provider does not advertise what was asked
	// (a device_authorization_endpoint for the device grant).
	ErrNotSupported = errors.New("the sign-in provider does not support this")
	// ErrDeviceDenied: the user (or the provider) refused the device code
	// (access_denied, RFC 8628 section 3.5).
	ErrDeviceDenied = errors.New("the sign-in was denied at the provider")
	// ErrDeviceExpired: the device code was not approved in time
	// (expired_token, RFC 8628 section 3.5, or its expires_in passed).
	ErrDeviceExpired = errors.New("the device code expired before it was approved; start the sign-in again")
	// ErrStateMismatch: a redirect whose state is not the login's (a
	// stale tab, or a forged request; RFC 6749 section 10.12), or whose
	// iss is another issuer's (RFC 9207 section 2.4).
	ErrStateMismatch = errors.New("the sign-in answer does not belong to this login; start the sign-in again")
	// ErrInvalidConfig: New was given a Config it cannot use; the
	// *ConfigError says which field.
	ErrInvalidConfig = errors.New("invalid OpenID provider configuration")
)

// ConfigError names the Config field New refused and why.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "oidc: " + e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ProviderError is an answer from the provider that is not success: the
// HTTP status and, when the body had one, the error code of RFC 6749
// section 5.2 (invalid_grant, invalid_client, ...), RFC 8628 section 3.5
// (access_denied, expired_token) or RFC 7009 section 2.2.1
// (unsupported_token_type). Description is the provider's
// error_description, bounded; it is for logs.
type ProviderError struct {
	Op          string // what was asked: "code exchange", "refresh", ...
	Status      int
	Code        string
	Description string
}

func (e *ProviderError) Error() string {
	msg := e.Op + ": "
	if e.Op == "" {
		msg = ""
	}
	switch e.Code {
	case "invalid_grant":
		return msg + "the sign-in provider refused the grant (expired, revoked or already used); sign in again"
	case "invalid_client", "unauthorized_client":
		return msg + "the sign-in provider refused this client (" + e.Code + "); check client_id and client_secret"
	case "access_denied":
		return msg + ErrDeviceDenied.Error()
	case "expired_token":
		return msg + ErrDeviceExpired.Error()
	case "invalid_scope":
		return msg + "the sign-in provider refused the requested scopes"
	}
	s := msg + "the sign-in provider answered " + statusText(e.Status)
	if e.Code != "" {
		s += ": " + e.Code
	}
	return s
}

// Is makes errors.Is(err, ErrUnavailable) hold for 5xx and 429, and
// errors.Is(err, ErrDeviceDenied / ErrDeviceExpired) for access_denied and
// expired_token.
func (e *ProviderError) Is(target error) bool {
	switch target {
	case ErrUnavailable:
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests
	case ErrDeviceDenied:
		return e.Code == "access_denied"
	case ErrDeviceExpired:
		return e.Code == "expired_token"
	}
	return false
}

// Permanent reports whether a refresh failing with this error means the
// refresh token will never work again, so the user must sign in again:
// invalid_grant (RFC 6749 section 5.2: expired, revoked, reused), any 401,
// and a client the provider no longer accepts.
func (e *ProviderError) Permanent() bool {
	switch e.Code {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	}
	return e.Status == http.StatusUnauthorized
}

// TokenError says why an ID token was refused. It matches
// ErrInvalidIDToken with errors.Is. Reason never quotes the token.
type TokenError struct {
	Reason string
}

func (e *TokenError) Error() string { return ErrInvalidIDToken.Error() + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidIDToken) hold.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidIDToken }

func tokenErr(format string, a ...any) error {
	return &TokenError{Reason: fmt.Sprintf(format, a...)}
}

// statusText is "404 Not Found".
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// clip bounds a provider-given string.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// classify turns an error from x/oauth2 or from our own requests into
// this package's errors. It is the one place answers become errors:
//   - the caller's cancellation or deadline: ctx's error, as it is;
//   - *oauth2.RetrieveError: *ProviderError;
//   - a body too large or unusable: wrapping ErrInvalidResponse;
//   - transport failures (refused, reset, timeouts, a body cut short):
//     wrapping ErrUnavailable, with the cause (never a body) for logs;
//   - anything else x/oauth2 reports (it flattens parse failures of a 2xx
//     into text): wrapping ErrInvalidResponse, the text dropped.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &ProviderError{Op: op, Status: status, Code: clip(re.ErrorCode, 64), Description: clip(re.ErrorDescription, 200)}
	}
	if errors.Is(err, ErrInvalidResponse) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidIDToken) {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, ue.Err)
	}
	return fmt.Errorf("%w: %s: the answer could not be read", ErrInvalidResponse, op)
}
