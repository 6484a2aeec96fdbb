package session

import (
	"context"
	"fmt"

	"github.com/codex-auth/codex-auth/session/loopback"
	"github.com/codex-auth/codex-auth/store"
)

// startProviderBrowserLogin is StartBrowserLogin for a provider: PKCE
// S256, state and nonce, on a loopback redirect at any free port (RFC
// 8252 section 7.3) on 127.0.0.1 and [::1]: http://127.0.0.1:PORT/callback.
// The provider is discovered first (once), before any login is stopped.
func (m *Manager) startProviderBrowserLogin(ctx context.Context, p Provider) (BrowserLogin, error) {
	if err := m.policy().CheckProvider(); err != nil {
		return BrowserLogin{}, err
	}
	if err := p.Ready(ctx); err != nil {
		return BrowserLogin{}, fmt.Errorf("browser login: %w", err)
	}
	m.loginMu.Lock()
	defer m.loginMu.Unlock()
	m.stopLogin(nil)
	if err := m.ctx.Err(); err != nil {
		return BrowserLogin{}, fmt.Errorf("session closed: %w", err)
	}
	req := AuthorizeRequest{
		State:    randomToken(32), // RFC 6749 section 10.12
		Nonce:    randomToken(32), // OpenID Connect Core 1.0 section 3.1.2.1
		Verifier: randomToken(64), // RFC 7636 section 4.1
	}
	info := p.Info()
	cb, err := loopback.ListenWith(ctx, req.State, m.callbackPorts(), loopback.Options{CallbackPath: ProviderCallbackPath, Service: info.Name})
	if err != nil {
		return BrowserLogin{}, fmt.Errorf("browser login: %w: %w", ErrLoginFailed, err)
	}
	req.RedirectURI = fmt.Sprintf("http://127.0.0.1:%d%s", cb.Port(), ProviderCallbackPath)
	authURL, err := p.AuthorizeURL(ctx, req)
	if err != nil {
		cb.Close()
		return BrowserLogin{}, fmt.Errorf("browser login: %w", err)
	}
	id := "login-" + randomToken(12)
	return m.launchBrowser(id, cb, authURL, func(ctx context.Context, res loopback.Result) error {
		ts, err := p.Redeem(ctx, res.Query(), req)
		if err != nil {
			return err
		}
		return m.completeProviderLogin(ctx, id, info, ts)
	}), nil
}

// startProviderDeviceLogin is StartDeviceLogin for a provider: the RFC
// 8628 device grant, polled by the provider client (interval, slow_down)
// until the code is approved, denied or expires.
func (m *Manager) startProviderDeviceLogin(ctx context.Context, p Provider) (DeviceLogin, error) {
	if err := m.policy().CheckProvider(); err != nil {
		return DeviceLogin{}, err
	}
	info := p.Info()
	return m.startDevice(ctx, p.DeviceStart, func(ctx context.Context, id string, dc DeviceCode) error {
		ts, err := p.DeviceWait(ctx, dc)
		if err != nil {
			return err
		}
		return m.completeProviderLogin(ctx, id, info, ts)
	})
}

// completeProviderLogin saves a provider's login (the provider's own
// record, never Codex's) and notifies LoginCompleted then Updated.
func (m *Manager) completeProviderLogin(ctx context.Context, id string, info ProviderInfo, ts TokenSet) error {
	if ts.AccessToken == "" || ts.Subject == "" {
		return fmt.Errorf("%w: the provider returned no access token or no verified subject", ErrLoginFailed)
	}
	rec := store.NewOIDCRecord(providerAccount(store.OIDCInfo{
		Provider: info.Name, Issuer: info.Issuer, ClientID: info.ClientID, Subject: ts.Subject,
	}, ts), ts.IDToken, ts.AccessToken, ts.RefreshToken)
	now := m.opts.Now().UTC()
	rec.LastRefresh = &now
	return m.commit(func() error {
		// allowed_providers may have changed during the login.
		if err := m.policy().CheckRecord(rec); err != nil {
			return err
		}
		return m.opts.Store.Replace(ctx, rec)
	}, rec, noteCompleted(LoginCompleted{LoginID: id, Success: true}), noteUpdated(updatedOf(rec)))
}

// providerToken is Token for a provider's record: its access token,
// refreshed first when it expires within the refresh window (or when
// refresh is set), and its ID token.
func (m *Manager) providerToken(ctx context.Context, refresh bool) (Token, error) {
	rec, err := m.ensureFresh(ctx, refresh)
	if err != nil {
		return Token{}, err
	}
	m.mu.Lock()
	// A forced refresh later is asked against this token (a 401 with it).
	m.refresh.served = rec.Tokens.AccessToken
	m.mu.Unlock()
	info, _ := rec.OIDC()
	return Token{Type: AccountOIDC, AccessToken: rec.Tokens.AccessToken, IDToken: rec.Tokens.IDToken, ExpiresAt: info.ExpiresAt}, nil
}
