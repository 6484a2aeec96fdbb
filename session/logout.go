// logout.go: logging out: delete every local copy at once, revoke at the issuer (RFC 7009) in the background.

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
	_, err := m.logout(ctx)
	return err
}

// LogoutAndRevoke is Logout that waits for the revoke, up to 5 seconds
// (the CLI's behaviour) or until ctx ends. revoked reports whether the
// issuer confirmed it; a failed revoke is not an error: the local
// credentials are gone either way.
func (m *Manager) LogoutAndRevoke(ctx context.Context) (revoked bool, err error) {
	done, err := m.logout(ctx)
	if err != nil || done == nil {
		return false, err
	}
	t := time.NewTimer(logoutRevokeWait)
	defer t.Stop()
	select {
	case rerr := <-done:
		return rerr == nil, nil
	case <-t.C:
	case <-ctx.Done():
	}
	return false, nil
}

// logout deletes locally and starts the revoke; done (nil when there was
// nothing to revoke) receives the revoke's result.
func (m *Manager) logout(ctx context.Context) (<-chan error, error) {
	// Revoke what is stored (another process may have logged in since we
	// last looked), else what we knew.
	var rec *store.Record
	err := m.commit(func() error {
		var lerr error
		rec, lerr = m.opts.Store.Load(ctx)
		if lerr != nil || rec == nil {
			m.mu.Lock()
			rec = m.rec
			m.mu.Unlock()
		}
		_, err := m.opts.Store.Delete(ctx)
		return err
	}, nil, Updated{})
	if err != nil {
		return nil, err
	}

	token, hint := revocable(rec)
	if token == "" {
		return nil, nil
	}
	done := make(chan error, 1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		rctx, cancel := context.WithTimeout(m.ctx, revokeTimeout)
		defer cancel()
		err := m.opts.Issuer.Revoke(rctx, token, hint)
		if err != nil {
			m.log.Info("revoking at the sign-in server failed (best effort)", "err", err)
		}
		done <- err
	}()
	return done, nil
}

// revocable is the token to revoke for a record: the refresh token (which
// revokes the whole grant, RFC 7009 section 2.1), else the access token.
func revocable(rec *store.Record) (token, hint string) {
	if rec == nil || rec.Tokens == nil || rec.EffectiveMode() != store.AuthModeChatGPT {
		return "", ""
	}
	if rec.Tokens.RefreshToken != "" {
		return rec.Tokens.RefreshToken, "refresh_token"
	}
	return rec.Tokens.AccessToken, "access_token"
}
