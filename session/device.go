package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Device flow errors. Both wrap ErrLoginFailed.
var (
	// ErrDeviceDenied: the user (or the server) refused the device code.
	ErrDeviceDenied = fmt.Errorf("%w: the sign-in was denied", ErrLoginFailed)
	// ErrDeviceExpired: the code was not approved in time; start again.
	ErrDeviceExpired = fmt.Errorf("%w: the device code expired before it was approved; start the sign-in again", ErrLoginFailed)
)

// Device flow defaults.
const (
	// DefaultDeviceLimit is how long a device code is polled (OpenAI's
	// codes live 15 minutes, and the Codex CLI gives up then).
	DefaultDeviceLimit = 15 * time.Minute
	// DefaultDeviceInterval is the poll interval when the issuer gives
	// none (RFC 8628 section 3.2).
	DefaultDeviceInterval = 5 * time.Second
	// DefaultDeviceMaxBackoff caps the interval while the issuer is
	// unavailable.
	DefaultDeviceMaxBackoff = time.Minute
	// deviceSlowDownStep is what slow_down adds (RFC 8628 section 3.5).
	deviceSlowDownStep = 5 * time.Second
)

// deviceOptions tunes runDeviceFlow; the zero value is OpenAI's flow.
type deviceOptions struct {
	// Limit is how long to poll before ErrDeviceExpired (default
	// DefaultDeviceLimit).
	Limit time.Duration
	// MinInterval is the least time between polls, whatever the issuer
	// announced (default 0: the issuer's interval, or
	// DefaultDeviceInterval when it gave none).
	MinInterval time.Duration
	// MaxBackoff caps the interval, doubled after each poll the issuer
	// could not answer (default DefaultDeviceMaxBackoff).
	MaxBackoff time.Duration
}

// runDeviceFlow polls iss until the user approves dc, then exchanges the
// code for tokens. It waits one interval before every poll (RFC 8628
// section 3.5); while the issuer is unavailable it doubles the wait up to
// MaxBackoff and goes on polling. It returns:
//   - the TokenSet after a successful exchange;
//   - ErrDeviceDenied when the code is refused (access_denied);
//   - ErrDeviceExpired when the issuer says the code expired or Limit
//     passes (a poll in flight at the limit is abandoned);
//   - ctx's error, at once, when ctx ends;
//   - other issuer answers wrapped with ErrLoginFailed, and the exchange's
//     own errors (*IssuerError, ErrIssuerUnavailable) as they are.
func runDeviceFlow(ctx context.Context, iss Issuer, dc DeviceCode, opts deviceOptions) (TokenSet, error) {
	if opts.Limit <= 0 {
		opts.Limit = DefaultDeviceLimit
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultDeviceMaxBackoff
	}
	base := dc.Interval
	if base <= 0 {
		base = DefaultDeviceInterval
	}
	base = max(base, opts.MinInterval)
	opts.MaxBackoff = max(opts.MaxBackoff, base)

	pctx, cancel := context.WithTimeoutCause(ctx, opts.Limit, ErrDeviceExpired)
	defer cancel()
	wait := base
	for {
		if err := deviceSleep(pctx, wait); err != nil {
			return TokenSet{}, deviceStop(ctx, pctx)
		}
		g, err := iss.DevicePoll(pctx, dc)
		if pctx.Err() != nil {
			return TokenSet{}, deviceStop(ctx, pctx)
		}
		var ie *IssuerError
		switch {
		case err == nil:
			if g.RedirectURI == "" {
				g.RedirectURI = iss.Base() + "/deviceauth/callback"
			}
			// The exchange runs on ctx: the limit is for approval, and a
			// code approved just before it must still be redeemed.
			return iss.Exchange(ctx, g.AuthorizationCode, g.CodeVerifier, g.RedirectURI)
		case errors.Is(err, ErrDevicePending):
			wait = base
		case errors.Is(err, ErrIssuerUnavailable):
			wait = min(wait*2, opts.MaxBackoff)
		case errors.As(err, &ie) && ie.Code == "authorization_pending":
			wait = base
		case errors.As(err, &ie) && ie.Code == "slow_down":
			base = min(base+deviceSlowDownStep, opts.MaxBackoff)
			wait = base
		case errors.As(err, &ie) && ie.Code == "access_denied":
			return TokenSet{}, ErrDeviceDenied
		case errors.As(err, &ie) && ie.Code == "expired_token":
			return TokenSet{}, ErrDeviceExpired
		default:
			return TokenSet{}, fmt.Errorf("%w: device authorization: %w", ErrLoginFailed, err)
		}
	}
}

// deviceSleep waits d or until ctx ends.
func deviceSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// deviceStop says why polling stopped: the caller's context ending wins,
// else the limit passed.
func deviceStop(ctx, pctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if cause := context.Cause(pctx); errors.Is(cause, ErrDeviceExpired) {
		return ErrDeviceExpired
	}
	return pctx.Err()
}

// StartDeviceLogin starts a device-code login (OpenAI's device flow) and
// returns as soon as the issuer gave a code; polling then runs in the
// background and ends with LoginCompleted (and Updated on success). It
// ends any login in progress. Asking for the code runs on ctx (a
// cancelled request stops it) and is also stopped by a new login, a
// CancelLogin of any login, or Close; it is bounded by the HTTP client's
// timeout, after which the error wraps ErrIssuerUnavailable. A 404 is
// ErrDeviceCodeDisabled.
func (m *Manager) StartDeviceLogin(ctx context.Context) (DeviceLogin, error) {
	if p := m.opts.Provider; p != nil {
		return m.startProviderDeviceLogin(ctx, p)
	}
	if err := m.policy().CheckLogin(LoginMethodChatGPT); err != nil {
		return DeviceLogin{}, err
	}
	return m.startDevice(ctx, m.opts.Issuer.DeviceStart, func(ctx context.Context, id string, dc DeviceCode) error {
		ts, err := runDeviceFlow(ctx, m.opts.Issuer, dc, deviceOptions{Limit: m.opts.DeviceLimit})
		if err != nil {
			return err
		}
		return m.completeChatGPTLogin(ctx, id, ts)
	})
}

// startDevice is a device-code login's start: it asks start for a code
// (on ctx, and stopped by a new login, a cancel or Close) and, once it
// has one, runs run in the background as the login in flight, with the
// code's ExpiresAt set to when polling stops (DeviceLimit from now, or
// the code's own expiry when sooner).
func (m *Manager) startDevice(ctx context.Context, start func(context.Context) (DeviceCode, error), run func(ctx context.Context, id string, dc DeviceCode) error) (DeviceLogin, error) {
	m.loginMu.Lock()
	m.stopLogin(nil)
	if err := m.ctx.Err(); err != nil {
		m.loginMu.Unlock()
		return DeviceLogin{}, fmt.Errorf("session closed: %w", err)
	}
	id := "login-" + randomToken(12)
	limit := m.opts.DeviceLimit
	// The flow (polling, exchange, saving) lives on the Manager's
	// context; the start also ends with the request.
	fctx, cancel := m.flowContext(limit + m.opts.RefreshTimeout)
	l := m.beginLogin(id, cancel)
	m.loginMu.Unlock()

	sctx, scancel := context.WithCancel(fctx)
	stop := context.AfterFunc(ctx, scancel)
	dc, err := start(sctx)
	stop()
	scancel()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case fctx.Err() != nil:
			err = errCanceled // a new login, a cancel or Close
		}
		m.abandonLogin(l)
		return DeviceLogin{}, fmt.Errorf("device login: %w", err)
	}
	if fctx.Err() != nil {
		// Stopped (a new login, Close) just as the code came.
		m.abandonLogin(l)
		return DeviceLogin{}, fmt.Errorf("device login: %w", errCanceled)
	}
	expires := m.opts.Now().Add(limit)
	if !dc.ExpiresAt.IsZero() && dc.ExpiresAt.Before(expires) {
		expires = dc.ExpiresAt
	}
	dc.ExpiresAt = expires
	if m.devicePoll > 0 {
		dc.Interval = m.devicePoll
	}
	m.launchLogin(fctx, l, func(ctx context.Context) error { return run(ctx, id, dc) })
	return DeviceLogin{LoginID: id, VerificationURL: dc.VerificationURL, UserCode: dc.UserCode, ExpiresAt: expires}, nil
}
