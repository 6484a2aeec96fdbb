package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/store"
)

// A Manager signs in to Codex (Options.Issuer: OpenAI's issuer, the
// credentials Codex shares) or to an OpenID provider of the user's
// choosing (Options.Provider, --provider NAME): the same flows, refresh,
// store and watcher, with none of Codex's own steps (the API-key
// exchange, workspace policy, whoami, refresh_reason, the refresh
// coordination with the Codex CLI) and a record kept apart
// (store.OpenProvider).

// IssuerKind says what a Manager signs in to.
type IssuerKind string

// Issuer kinds.
const (
	// KindCodex is OpenAI's issuer and Codex's shared credentials.
	KindCodex IssuerKind = "codex"
	// KindOIDC is an OpenID Connect provider.
	KindOIDC IssuerKind = "oidc"
)

// AccountOIDC is the account type of a provider's session.
const AccountOIDC AccountType = "oidc"

// ProviderCallbackPath is the loopback redirect's path for a provider:
// register http://127.0.0.1/callback (any port, RFC 8252 section 7.3)
// and http://[::1]/callback with it.
const ProviderCallbackPath = "/callback"

// providerMsgLoggedOut is loggedOut's message for a provider's session.
const providerMsgLoggedOut = "Signed out in another process (another editor, or codex-auth in a shell)."

// ErrProviderLoginType: an API-key or access-token login asked of a
// Manager signed in to a provider (they are Codex's).
var ErrProviderLoginType = fmt.Errorf("%w: API keys and access tokens are Codex's; a provider signs in with the browser or a device code", ErrLoginTypeUnsupported)

// ProviderInfo names the provider a Manager signs in to.
type ProviderInfo struct {
	// Name is its name in the configuration ([codex_auth.providers.NAME]).
	Name string
	Kind IssuerKind
	// Issuer is its issuer identifier; ClientID this app's registration.
	Issuer   string
	ClientID string
}

// Provider is the seam to an OpenID provider: what the Issuer is to
// OpenAI's, with OpenID Connect's differences (a nonce in the browser
// login, the device grant polled by the client itself, a refresh bound
// to the subject). Every method honours ctx and the HTTP client's
// timeouts. Errors, as the Issuer's: wrapping ErrIssuerUnavailable
// (network, timeouts, 5xx, 429; also a discovery that failed), an
// *IssuerError for another answer, ErrDeviceCodeDisabled when the
// provider has no device grant, ErrDeviceDenied and ErrDeviceExpired
// from DeviceWait, and ErrLoginFailed for a login answer that cannot be
// trusted (an ID token failing a check, a state or issuer mismatch).
type Provider interface {
	// Info names the provider; it needs no network.
	Info() ProviderInfo
	// Ready fetches what the flows need (discovery), once.
	Ready(ctx context.Context) error
	// AuthorizeURL is the browser login's URL (PKCE S256, state, nonce).
	AuthorizeURL(ctx context.Context, r AuthorizeRequest) (string, error)
	// Redeem checks the loopback redirect's query against r (state,
	// iss) and exchanges its code, the ID token checked with r's nonce.
	Redeem(ctx context.Context, redirect url.Values, r AuthorizeRequest) (TokenSet, error)
	// DeviceStart asks for a user code (RFC 8628 section 3.1).
	DeviceStart(ctx context.Context) (DeviceCode, error)
	// DeviceWait polls until the user approves dc or it expires (its
	// ExpiresAt), as RFC 8628 section 3.4 asks.
	DeviceWait(ctx context.Context, dc DeviceCode) (TokenSet, error)
	// Refresh redeems a refresh token; a new ID token must be for
	// subject.
	Refresh(ctx context.Context, refreshToken, subject string) (TokenSet, error)
	// Revoke revokes a token (RFC 7009) where the provider advertises it.
	Revoke(ctx context.Context, token, hint string) error
}

// OIDCProvider is a Provider over package oidc. It discovers the
// provider when first needed (and again after a failed discovery), so
// that a provider down at start does not stop the sidecar from serving.
type OIDCProvider struct {
	info ProviderInfo
	cfg  oidc.Config

	mu sync.Mutex
	p  *oidc.Provider
}

var _ Provider = (*OIDCProvider)(nil)

// NewOIDCProvider checks cfg (without network) for the provider called
// name.
func NewOIDCProvider(name string, cfg oidc.Config) (*OIDCProvider, error) {
	if err := oidc.CheckConfig(cfg); err != nil {
		return nil, fmt.Errorf("provider %q: %w", name, err)
	}
	return &OIDCProvider{info: ProviderInfo{Name: name, Kind: KindOIDC, Issuer: cfg.Issuer, ClientID: cfg.ClientID}, cfg: cfg}, nil
}

// Info names the provider.
func (o *OIDCProvider) Info() ProviderInfo { return o.info }

// Ready discovers the provider, once.
func (o *OIDCProvider) Ready(ctx context.Context) error {
	_, err := o.provider(ctx)
	return err
}

func (o *OIDCProvider) provider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	p := o.p
	o.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := oidc.New(ctx, o.cfg)
	if err != nil {
		return nil, providerErr("discovery", err, false)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p == nil {
		o.p = p
	}
	return o.p, nil
}

// AuthorizeURL builds the authorization request.
func (o *OIDCProvider) AuthorizeURL(ctx context.Context, r AuthorizeRequest) (string, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return "", err
	}
	u, err := p.AuthCodeURL(r.State, r.Nonce, r.Verifier, r.RedirectURI)
	return u, providerErr("authorization", err, true)
}

// Redeem checks the redirect and exchanges its code.
func (o *OIDCProvider) Redeem(ctx context.Context, redirect url.Values, r AuthorizeRequest) (TokenSet, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return TokenSet{}, err
	}
	code, err := p.ParseRedirect(redirect, r.State)
	if err != nil {
		return TokenSet{}, providerErr("authorization", err, true)
	}
	tok, err := p.Exchange(ctx, code, r.Verifier, r.RedirectURI, r.Nonce)
	if err != nil {
		return TokenSet{}, providerErr("code exchange", err, true)
	}
	return o.tokenSet(ctx, p, tok, true), nil
}

// DeviceStart asks for a user code.
func (o *OIDCProvider) DeviceStart(ctx context.Context) (DeviceCode, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return DeviceCode{}, err
	}
	dc, err := p.DeviceStart(ctx)
	if err != nil {
		return DeviceCode{}, providerErr("device authorization", err, true)
	}
	return DeviceCode{
		DeviceAuthID:            dc.DeviceCode,
		UserCode:                dc.UserCode,
		VerificationURL:         dc.VerificationURI,
		VerificationURLComplete: dc.VerificationURIComplete,
		Interval:                dc.Interval,
		ExpiresAt:               dc.Expiry,
	}, nil
}

// DeviceWait polls until the code is approved, denied or expired.
func (o *OIDCProvider) DeviceWait(ctx context.Context, dc DeviceCode) (TokenSet, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return TokenSet{}, err
	}
	tok, err := p.DeviceWait(ctx, oidc.DeviceCode{
		DeviceCode:              dc.DeviceAuthID,
		UserCode:                dc.UserCode,
		VerificationURI:         dc.VerificationURL,
		VerificationURIComplete: dc.VerificationURLComplete,
		Expiry:                  dc.ExpiresAt,
		Interval:                dc.Interval,
	})
	if err != nil {
		return TokenSet{}, providerErr("device token", err, true)
	}
	return o.tokenSet(ctx, p, tok, true), nil
}

// Refresh redeems a refresh token.
func (o *OIDCProvider) Refresh(ctx context.Context, refreshToken, subject string) (TokenSet, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return TokenSet{}, err
	}
	tok, err := p.Refresh(ctx, refreshToken, subject)
	if err != nil {
		return TokenSet{}, providerErr("refresh", err, false)
	}
	return o.tokenSet(ctx, p, tok, false), nil
}

// Revoke revokes a token where the provider advertises revocation.
func (o *OIDCProvider) Revoke(ctx context.Context, token, hint string) error {
	p, err := o.provider(ctx)
	if err != nil {
		return err
	}
	return providerErr("revoke", p.Revoke(ctx, token, hint), false)
}

// userinfoTimeout bounds asking userinfo for what the ID token left out.
const userinfoTimeout = 10 * time.Second

// tokenSet is the seam's view of oidc's tokens. After a login, a name or
// email the ID token left out (OpenID Connect Core 1.0 section 5.4) is
// asked of userinfo, best effort.
func (o *OIDCProvider) tokenSet(ctx context.Context, p *oidc.Provider, tok oidc.Tokens, login bool) TokenSet {
	ts := TokenSet{IDToken: tok.IDToken, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry}
	if c := tok.Claims; c != nil {
		ts.Subject, ts.Email, ts.Name = c.Subject, c.Email, c.Name
		if ts.Name == "" {
			ts.Name = c.PreferredUsername
		}
	}
	if login && ts.Subject != "" && (ts.Email == "" || ts.Name == "") {
		uctx, cancel := context.WithTimeout(ctx, userinfoTimeout)
		defer cancel()
		if ui, err := p.UserInfo(uctx, tok.AccessToken, ts.Subject); err == nil {
			ts.Email = cmpOr(ts.Email, ui.Email)
			ts.Name = cmpOr(ts.Name, ui.Name, ui.PreferredUsername)
		}
	}
	return ts
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// ProviderLoginError: a provider's login failed for a reason safe to
// show (package oidc's words, which never hold a token).
type ProviderLoginError struct {
	Message string
	Err     error
}

func (e *ProviderLoginError) Error() string { return "login failed: " + e.Message }

// Unwrap returns ErrLoginFailed and the cause.
func (e *ProviderLoginError) Unwrap() []error { return []error{ErrLoginFailed, e.Err} }

// providerErr translates package oidc's errors into the seam's, keeping
// oidc's words (never a token) for logs and LoginCompleted:
//   - the caller's cancellation as it is;
//   - ErrUnavailable (refused, timeouts, 5xx, 429; a failed discovery
//     too): ErrIssuerUnavailable;
//   - a redirect (3xx, never followed): ErrIssuerUnavailable and
//     ErrIssuerRedirect, in a login too;
//   - access_denied and expired_token: ErrDeviceDenied, ErrDeviceExpired;
//   - no device grant advertised: ErrDeviceCodeDisabled;
//   - in a login, any other failure (an answer refusing it, an invalid
//     response or ID token, a state or issuer mismatch): a
//     *ProviderLoginError (ErrLoginFailed);
//   - elsewhere, another answer is an *IssuerError (a refresh token
//     refused for good is Permanent, as is a record without one), and an
//     answer that cannot be used ErrInvalidResponse.
func providerErr(op string, err error, login bool) error {
	var pe *oidc.ProviderError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, oidc.ErrUnavailable):
		return fmt.Errorf("%w (%s)", ErrIssuerUnavailable, err.Error())
	case errors.As(err, &pe) && pe.Status/100 == 3:
		// Never followed (package oidc does not): said as for Codex's issuer.
		return fmt.Errorf("%w: %w (%s)", ErrIssuerUnavailable, ErrIssuerRedirect, err.Error())
	case errors.Is(err, oidc.ErrDeviceDenied):
		return ErrDeviceDenied
	case errors.Is(err, oidc.ErrDeviceExpired):
		return ErrDeviceExpired
	case errors.Is(err, oidc.ErrNotSupported):
		return fmt.Errorf("%w (%s)", ErrDeviceCodeDisabled, err.Error())
	case login:
		return &ProviderLoginError{Message: err.Error(), Err: err}
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %w", pe.Error(), &IssuerError{Status: pe.Status, Code: pe.Code, Description: pe.Description})
	case op == "refresh" && errors.Is(err, oidc.ErrInvalidConfig):
		// No refresh token (the provider gave none: no offline_access).
		return fmt.Errorf("%s: %w", err.Error(), &IssuerError{Status: 400, Code: "invalid_grant"})
	}
	return fmt.Errorf("%w (%s)", ErrInvalidResponse, err.Error())
}

// usable reports whether rec is a record this Manager serves: a
// provider's record for a provider's Manager, one of Codex's for Codex's.
func (m *Manager) usable(rec *store.Record) bool {
	if rec == nil || !rec.Supported() {
		return false
	}
	return (rec.EffectiveMode() == store.AuthModeOIDC) == (m.opts.Provider != nil)
}

// tokenMode is the auth_mode of the records this Manager refreshes.
func (m *Manager) tokenMode() store.AuthMode {
	if m.opts.Provider != nil {
		return store.AuthModeOIDC
	}
	return store.AuthModeChatGPT
}

// policyOf is the policy cfg puts in force for this Manager: Codex's
// (forced_login_method, forced_chatgpt_workspace_id), or for a provider
// allowed_providers alone.
func (m *Manager) policyOf(cfg store.Config) Policy {
	if m.opts.Provider == nil {
		return PolicyOf(cfg)
	}
	return Policy{Provider: m.opts.Provider.Info().Name, AllowedProviders: slices.Clone(cfg.AllowedProviders)}
}

// CheckProvider refuses a provider allowed_providers does not list.
func (p Policy) CheckProvider() error {
	if p.Provider == "" || p.AllowedProviders == nil || slices.Contains(p.AllowedProviders, p.Provider) {
		return nil
	}
	return &PolicyError{Message: fmt.Sprintf("The provider %q is not allowed by the managed configuration (allowed_providers).", p.Provider)}
}

// samePolicy reports whether two policies are the same.
func samePolicy(a, b Policy) bool {
	return a.ForcedLoginMethod == b.ForcedLoginMethod && slices.Equal(a.ForcedWorkspaceIDs, b.ForcedWorkspaceIDs) &&
		a.Provider == b.Provider && (a.AllowedProviders == nil) == (b.AllowedProviders == nil) && slices.Equal(a.AllowedProviders, b.AllowedProviders)
}

// providerAccount is a provider record's OIDCInfo fed by a token set: a
// login's, or a refresh's (whose empty fields keep what was known).
func providerAccount(info store.OIDCInfo, ts TokenSet) store.OIDCInfo {
	info.ExpiresAt = ts.Expiry
	if ts.Email != "" {
		info.Email = ts.Email
	}
	if ts.Name != "" {
		info.Name = ts.Name
	}
	return info
}
