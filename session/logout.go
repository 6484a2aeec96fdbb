package session

import (
	"context"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// Logout deletes the credentials from every store at once, then revokes
// them at the issuer in the background (bounded; Close waits for it), so
// it returns immediately even offline. Logging out when logged out is
// success.
func (m *Manager) Logout(ctx context.Context) error {
	_, _, err := m.logout(ctx)
	return err
}

// LogoutResult says what LogoutAndRevoke did.
type LogoutResult struct {
	// Existed: a record was removed from some store (the file, the
	// keyring, or memory).
	Existed bool
	// Revoked: the issuer confirmed the revoke within the wait.
	Revoked bool
}

// LogoutAndRevoke is Logout that waits for the revoke, up to 5 seconds
// (the CLI's behaviour) or until ctx ends. A failed revoke is not an
// error: the local credentials are gone either way.
func (m *Manager) LogoutAndRevoke(ctx context.Context) (LogoutResult, error) {
	done, existed, err := m.logout(ctx)
	if err != nil {
		return LogoutResult{Existed: existed}, err
	}
	return m.waitRevoke(ctx, done, existed), nil
}

// waitRevoke waits for a revoke started by a logout (done; nil when there
// was nothing to revoke), up to logoutRevokeWait or until ctx ends.
func (m *Manager) waitRevoke(ctx context.Context, done <-chan error, existed bool) LogoutResult {
	res := LogoutResult{Existed: existed}
	if done == nil {
		return res
	}
	t := time.NewTimer(logoutRevokeWait)
	defer t.Stop()
	select {
	case rerr := <-done:
		res.Revoked = rerr == nil
	case <-t.C:
	case <-ctx.Done():
	}
	return res
}

// logout deletes locally and starts the revoke; done (nil when there was
// nothing to revoke) receives the revoke's result.
func (m *Manager) logout(ctx context.Context) (done <-chan error, existed bool, err error) {
	// A login still in progress would sign the user back in minutes
	// later: logging out ends it (it reports LoginCompleted "canceled").
	m.loginMu.Lock()
	m.stopLogin(nil)
	m.loginMu.Unlock()
	// A refresh in flight holds the store's locks; to a hung issuer it
	// would hold them for its whole timeout. Its result is not wanted.
	m.mu.Lock()
	m.refresh.cancelFlights()
	m.mu.Unlock()

	// Revoke what is stored (another process may have logged in since we
	// last looked), else what we knew.
	var rec *store.Record
	err = m.commit(func() error {
		// Read and delete in one hold of the store's locks (Take): a
		// refresh in flight finishes first, so the token revoked is the
		// one it saved, not the one it spent; and a login another
		// process stores meanwhile is either the one revoked and
		// deleted here, or comes after and stays.
		var derr error
		rec, existed, derr = m.opts.Store.Take(ctx)
		if derr != nil {
			return derr
		}
		if rec == nil {
			m.mu.Lock()
			rec = m.rec
			m.mu.Unlock()
		}
		return nil
	}, nil, noteUpdated(AccountUpdated{}))
	if err != nil {
		return nil, false, err
	}

	return m.revokeLater(rec), existed, nil
}

// revokeLater revokes rec at the issuer in the background (bounded;
// Close waits for it); the channel (nil when there is nothing to revoke)
// receives the result.
func (m *Manager) revokeLater(rec *store.Record) <-chan error {
	token, hint := revocable(rec)
	if token == "" || !m.usable(rec) || m.ctx.Err() != nil {
		// Nothing to revoke, or not this Manager's to send (another
		// sign-in's tokens never go to this issuer), or closing.
		return nil
	}
	ch := make(chan error, 1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		rctx, cancel := context.WithTimeout(m.ctx, revokeTimeout)
		defer cancel()
		var err error
		if m.opts.Provider != nil {
			err = m.opts.Provider.Revoke(rctx, token, hint)
		} else {
			err = m.opts.Issuer.Revoke(rctx, token, hint)
		}
		if err != nil {
			m.log.Info("revoking at the sign-in server failed (best effort)", "err", err)
		}
		ch <- err
	}()
	return ch
}

// revocable is the token to revoke for a record: the refresh token (which
// revokes the whole grant, RFC 7009 section 2.1), else the access token.
func revocable(rec *store.Record) (token, hint string) {
	if rec == nil || rec.Tokens == nil || (rec.EffectiveMode() != store.AuthModeChatGPT && rec.EffectiveMode() != store.AuthModeOIDC) {
		return "", ""
	}
	if rec.Tokens.RefreshToken != "" {
		return rec.Tokens.RefreshToken, "refresh_token"
	}
	return rec.Tokens.AccessToken, "access_token"
}
