package session

import (
	"context"
	"strings"

	"github.com/codex-auth/codex-auth/store"
)

// LoginAPIKey saves an API key as Codex's `login --with-api-key` does,
// ending any login in progress.
func (m *Manager) LoginAPIKey(ctx context.Context, apiKey string) error {
	if m.opts.Provider != nil {
		return ErrProviderLoginType
	}
	key := strings.TrimSpace(apiKey)
	if key == "" {
		return &InputError{Field: "apiKey", Reason: "must not be empty"}
	}
	if err := m.policy().CheckLogin(LoginMethodAPI); err != nil {
		return err
	}
	m.loginMu.Lock()
	defer m.loginMu.Unlock()
	m.stopLogin(nil)
	rec := store.NewAPIKeyRecord(key)
	return m.commit(func() error {
		if err := m.policy().CheckLogin(LoginMethodAPI); err != nil {
			return err
		}
		return m.opts.Store.Replace(ctx, rec)
	}, rec, noteUpdated(updatedOf(rec)))
}
