package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/codex-auth/codex-auth/session/loopback"
	"github.com/codex-auth/codex-auth/store"
)

// HeadlessMessage is BrowserLogin.Message when no browser can be shown here.
const HeadlessMessage = "No browser here: open the URL on another machine that can reach this one, or use device code login."

// randomToken is n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// callbackPorts are the ports to try for the loopback server, in order.
func (m *Manager) callbackPorts() []int {
	if m.opts.CallbackPort == AnyCallbackPort {
		return []int{0}
	}
	ports := []int{m.opts.CallbackPort}
	if fb := m.opts.FallbackPort; fb != 0 && fb != m.opts.CallbackPort {
		ports = append(ports, fb)
	}
	return ports
}

// StartBrowserLogin starts a browser login and returns at once with the
// URL to open; the flow ends with LoginCompleted (and Updated on
// success). It ends any login in progress first. When a browser can be
// shown here, it asks OpenURL to open the URL.
func (m *Manager) StartBrowserLogin(ctx context.Context) (BrowserLogin, error) {
	if p := m.opts.Provider; p != nil {
		return m.startProviderBrowserLogin(ctx, p)
	}
	policy := m.policy()
	if err := policy.CheckLogin(LoginMethodChatGPT); err != nil {
		return BrowserLogin{}, err
	}
	m.loginMu.Lock()
	defer m.loginMu.Unlock()
	m.stopLogin(nil)
	if err := m.ctx.Err(); err != nil {
		return BrowserLogin{}, fmt.Errorf("session closed: %w", err)
	}

	// The verifier is 64 random bytes, base64url, as Codex makes it
	// (oauth2.GenerateVerifier makes 32).
	state := randomToken(32)    // RFC 6749 section 10.12
	verifier := randomToken(64) // RFC 7636 section 4.1: 86 characters
	cb, err := loopback.Listen(ctx, state, m.callbackPorts())
	if err != nil {
		return BrowserLogin{}, fmt.Errorf("browser login: %w: %w", ErrLoginFailed, err)
	}
	redirect := fmt.Sprintf("http://localhost:%d/auth/callback", cb.Port())
	authURL := m.opts.Issuer.AuthorizeURL(AuthorizeRequest{
		RedirectURI:       redirect,
		State:             state,
		Verifier:          verifier,
		AllowedWorkspaces: policy.ForcedWorkspaceIDs,
	})
	id := "login-" + randomToken(12)
	return m.launchBrowser(id, cb, authURL, func(ctx context.Context, res loopback.Result) error {
		ts, err := m.opts.Issuer.Exchange(ctx, res.Code(), verifier, redirect)
		if err != nil {
			return err
		}
		return m.completeChatGPTLogin(ctx, id, ts)
	}), nil
}

// launchBrowser runs a browser login listening on cb as the login in
// flight and returns the start's answer: the editor opens the page where
// the user is, when it can; else this machine's browser, when it has a
// display. redeem exchanges the redirect's code and saves the login. The
// caller holds loginMu and has stopped the previous login.
func (m *Manager) launchBrowser(id string, cb *loopback.Server, authURL string, redeem func(context.Context, loopback.Result) error) BrowserLogin {
	open := m.editor.ShowDocument
	if !m.editor.CanShowDocuments() {
		open = m.opts.Browser
	}
	headless := !m.editor.CanShowDocuments() && m.opts.Headless()
	fctx, cancel := m.flowContext(m.opts.LoginTimeout)
	m.runLogin(fctx, cancel, id, func(ctx context.Context) error {
		defer cb.Close()
		if !headless && open != nil {
			m.openURL(ctx, open, authURL)
		}
		return m.browserFlow(ctx, cb, redeem)
	})
	res := BrowserLogin{LoginID: id, AuthURL: authURL, Headless: headless}
	if headless {
		res.Message = HeadlessMessage
	}
	return res
}

// openURL asks open to show url, in the background: the editor may take
// its time to answer, and the callback must be served meanwhile.
func (m *Manager) openURL(ctx context.Context, open func(context.Context, string) (bool, error), url string) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		opened, err := open(ctx, url)
		if err != nil || !opened {
			// The error's type only: an editor may echo the URI (and
			// its state parameter) in its error message.
			m.log.Info("could not open the browser; the editor shows the URL", "opened", opened, "errType", fmt.Sprintf("%T", err))
		}
	}()
}

// browserFlow waits for the redirect and has redeem exchange the code and
// save the login. It returns nil once redeem has sent LoginCompleted.
func (m *Manager) browserFlow(ctx context.Context, cb *loopback.Server, redeem func(context.Context, loopback.Result) error) error {
	var res loopback.Result
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-cb.Canceled():
		return errCanceled
	case res = <-cb.Results():
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrLoginFailed, err)
	}
	err := redeem(ctx, res)
	res.Reply(outcomeOf(ctx, err))
	if err != nil {
		return err
	}
	// Serve /success to the browser before freeing the port.
	t := time.NewTimer(loopback.SuccessGrace)
	defer t.Stop()
	select {
	case <-cb.Succeeded():
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// outcomeOf is how the code's exchange ended, for the browser's page.
func outcomeOf(ctx context.Context, err error) loopback.Outcome {
	if err == nil {
		return loopback.Outcome{}
	}
	var pe *PolicyError
	return loopback.Outcome{Failure: loginErrorText(ctx, err), Forbidden: errors.As(err, &pe)}
}

// completeChatGPTLogin finishes a ChatGPT login (browser or device code):
// it checks the policy in force (login method and workspace), trades the
// ID token for an API key (best effort, as Codex), saves the record Codex
// writes, and notifies LoginCompleted then Updated. Nothing is saved when
// the policy refuses.
func (m *Manager) completeChatGPTLogin(ctx context.Context, id string, ts TokenSet) error {
	if ts.IDToken == "" || ts.AccessToken == "" || ts.RefreshToken == "" {
		return fmt.Errorf("%w: the sign-in server returned incomplete tokens", ErrLoginFailed)
	}
	claims, err := store.ParseIDToken(ts.IDToken)
	if err != nil {
		return fmt.Errorf("%w: the sign-in server returned an unreadable ID token", ErrLoginFailed)
	}
	rec := &store.Record{
		AuthMode: store.AuthModeChatGPT,
		Tokens: &store.Tokens{
			IDToken:      ts.IDToken,
			AccessToken:  ts.AccessToken,
			RefreshToken: ts.RefreshToken,
		},
	}
	if claims.AccountID != "" {
		acc := claims.AccountID
		rec.Tokens.AccountID = &acc
	}
	if err := m.policy().CheckRecord(rec); err != nil {
		return err
	}
	kctx, cancel := context.WithTimeout(ctx, m.opts.RefreshTimeout)
	key, err := m.opts.Issuer.ExchangeAPIKey(kctx, ts.IDToken)
	cancel()
	if err != nil {
		m.log.Info("no API key from the sign-in server (best effort)", "err", err)
	} else if key != "" {
		rec.APIKey = &key
	}
	now := m.opts.Now().UTC()
	rec.LastRefresh = &now
	return m.commit(func() error {
		// The policy may have changed during the exchange.
		if err := m.policy().CheckRecord(rec); err != nil {
			return err
		}
		return m.opts.Store.Replace(ctx, rec)
	}, rec, noteCompleted(LoginCompleted{LoginID: id, Success: true}), noteUpdated(updatedOf(rec)))
}
