package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/codex-auth/codex-auth/session/oauth"
)

// AccountType is the kind of account account/read and account/token
// report (Codex's app-server names).
type AccountType string

// Account types.
const (
	AccountAPIKey              AccountType = "apiKey"
	AccountChatGPT             AccountType = "chatgpt"
	AccountPersonalAccessToken AccountType = "personalAccessToken"
	AccountAgentIdentity       AccountType = "agentIdentity"
)

// Account is what account/read shows: never a secret.
type Account struct {
	Type AccountType
	// APIKeyHint is the masked key (first 8, "***", last 5).
	APIKeyHint string
	Email      string
	PlanType   string
	// WorkspaceID is the chatgpt_account_id claim.
	WorkspaceID string
	// Subject and Name are a provider's user (AccountOIDC).
	Subject string
	Name    string
	// ExpiresAt is the access token's exp; zero when unknown.
	ExpiresAt time.Time
}

// Status is the whole answer of account/read.
type Status struct {
	// Account is nil when logged out.
	Account *Account
	// RequiresOpenAIAuth is true when the configured issuer is OpenAI's.
	RequiresOpenAIAuth bool
	// StoreMode, StoreLocation, StoreFallback: where the record lives.
	StoreMode     string
	StoreLocation string
	StoreFallback string
	// Issuer is set when the issuer is not the default one (a
	// provider's issuer too).
	Issuer string
	// Provider is the provider signed in to; nil for Codex's sign-in.
	Provider *ProviderInfo
	// Policy in force.
	Policy Policy
	// Problem is set when the stored record cannot be used (corrupt,
	// unsupported mode): a message safe to show.
	Problem string
	// Warning is set when something does not stop the session but the
	// user should know (the watcher could not start): safe to show.
	Warning string
}

// Policy is the managed policy in force.
type Policy struct {
	// ForcedLoginMethod: "", LoginMethodChatGPT or LoginMethodAPI.
	ForcedLoginMethod LoginMethod
	// ForcedWorkspaceIDs: allowed workspaces; empty means any.
	ForcedWorkspaceIDs []string
	// Provider is the provider signed in to ("" for Codex's sign-in)
	// and AllowedProviders allowed_providers (nil: any): a provider's
	// session is checked against these alone (CheckProvider).
	Provider         string
	AllowedProviders []string
}

// Token is what account/token returns: the only secret-bearing result.
type Token struct {
	Type        AccountType // AccountAPIKey, AccountChatGPT, AccountPersonalAccessToken or AccountOIDC
	APIKey      string
	AccessToken string
	// IDToken is a provider's ID token (AccountOIDC), when it gave one.
	IDToken   string
	ExpiresAt time.Time
	AccountID string
}

// BrowserLogin is the immediate answer to a browser login start.
type BrowserLogin struct {
	LoginID  string
	AuthURL  string
	Headless bool
	// Message is set when headless: points to device code.
	Message string
}

// DeviceLogin is the immediate answer to a device-code login start.
type DeviceLogin struct {
	LoginID         string
	VerificationURL string
	UserCode        string
	ExpiresAt       time.Time
}

// Sentinel errors; package rpc maps each to its own code.
var (
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrIssuerUnavailable: network error, timeout or 5xx at the issuer.
	ErrIssuerUnavailable = oauth.ErrIssuerUnavailable
	// ErrIssuerRedirect: the issuer answered with a redirect, which is
	// never followed (the request carries a token or a code verifier).
	// Errors wrapping it also wrap ErrIssuerUnavailable.
	ErrIssuerRedirect = oauth.ErrIssuerRedirect
	// ErrSessionExpired: the refresh token was rejected; log in again.
	ErrSessionExpired = errors.New("the session has expired or was revoked; log in again")
	// ErrUnsupportedRecord: the stored record has a mode we do not handle.
	ErrUnsupportedRecord = errors.New("the stored credentials use a sign-in method codex-auth does not support")
	// ErrLoginTypeUnsupported: account/login/start with an unknown type.
	ErrLoginTypeUnsupported = errors.New("login type not supported")
	// ErrDeviceCodeDisabled: the issuer answered 404 to the device-code start.
	ErrDeviceCodeDisabled = oauth.ErrDeviceCodeDisabled
	// ErrLoginFailed: the login attempt failed (denied, expired, bad state).
	ErrLoginFailed = errors.New("login failed")
	// ErrInvalidInput: a parameter is wrong (empty API key, ...).
	ErrInvalidInput = errors.New("invalid input")
)

// ExpiredError: the issuer rejected the refresh token for good. Code is
// its reason (refresh_token_expired, refresh_token_reused,
// refresh_token_invalidated, or another); Error says it in words a user
// understands. errors.Is(err, ErrSessionExpired) holds.
type ExpiredError struct {
	Code string
}

func (e *ExpiredError) Error() string {
	switch e.Code {
	case "refresh_token_expired":
		return "the session has expired; sign in again"
	case "refresh_token_reused":
		return "the session was ended because its refresh token was used twice (two programs refreshed it at the same time); sign in again"
	case "refresh_token_invalidated":
		return "the session was revoked (signed out elsewhere, or the account's password or access changed); sign in again"
	}
	return ErrSessionExpired.Error()
}

// Unwrap makes errors.Is(err, ErrSessionExpired) true.
func (e *ExpiredError) Unwrap() error { return ErrSessionExpired }

// PolicyError: managed policy forbids the login or the stored credentials.
// Message is Codex's wording.
type PolicyError struct {
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// InputError names the parameter that is wrong.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// ErrDevicePending: the device code has not been approved yet.
var ErrDevicePending = oauth.ErrDevicePending
