package session

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/codex-auth/codex-auth/session/watch"
	"github.com/codex-auth/codex-auth/store"
)

// policyLogoutSuffix ends the policyViolation message: the credentials
// are removed.
const policyLogoutSuffix = " Logging out."

// policyNoticeSuffix ends account/read's problem after a policy logout,
// until the next change.
const policyNoticeSuffix = " The stored credentials were logged out."

// startWatch starts the Watcher on the store's home, the config files and
// (keyring and auto modes) the keyring entry, and waits until it is
// ready, so that a change after this returns is reported. The caller
// holds evMu. A watcher that cannot start is logged, not fatal: the
// sidecar still serves, it only misses changes made elsewhere.
func (m *Manager) startWatch(ctx context.Context) error {
	if m.opts.DisableWatch {
		return nil
	}
	wo := watch.Options{
		Files:        m.opts.ConfigFiles,
		PollInterval: m.opts.KeyringPoll,
		OnChange:     m.onChange,
		Logger:       m.log,
	}
	mode := m.opts.Store.Location().Mode
	if f := m.opts.Store.AuthFile(); f != "" && mode != store.ModeEphemeral {
		// Watched in keyring mode too: auto falls back to the file.
		wo.Dir = filepath.Dir(f)
	}
	if mode == store.ModeKeyring || mode == store.ModeAuto {
		wo.Poll = m.pollKeyring
	}
	if sf, ok := m.opts.Store.(interface{ SecretsFile() string }); ok {
		wo.AuthFiles = []string{sf.SecretsFile()} // "" when not in use
	}
	if m.opts.Saved != nil {
		if ix, ok := m.opts.Saved.(interface{ SavedIndexFile() string }); ok {
			wo.AccountsFiles = []string{ix.SavedIndexFile()}
		}
	}
	if wo.Dir == "" && len(wo.Files) == 0 && wo.Poll == nil {
		return nil
	}
	w, err := watch.New(wo)
	if err != nil {
		m.watchFailed(err)
		return nil
	}
	m.watcher.Store(w)
	ended := make(chan error, 1)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ended <- w.Run(m.ctx)
	}()
	select {
	case <-w.Ready():
	case err := <-ended:
		if err != nil {
			m.watchFailed(err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// watchFailed records that the watcher could not start: the sidecar still
// serves, and account/read says that changes made elsewhere go unnoticed.
func (m *Manager) watchFailed(err error) {
	m.log.Warn("not watching for changes made elsewhere", "err", err)
	m.mu.Lock()
	m.watchErr = err
	m.mu.Unlock()
}

// pollKeyring is the watcher's keyring poll: the stored record as bytes
// (only hashed, never kept). A corrupt entry is a value of its own, so
// that corruption is noticed; an unavailable store is an error (skipped).
func (m *Manager) pollKeyring(ctx context.Context) ([]byte, error) {
	rec, err := m.opts.Store.Load(ctx)
	var ce *store.CorruptError
	switch {
	case errors.As(err, &ce):
		return []byte("corrupt: " + ce.Error()), nil
	case err != nil:
		return nil, err
	case rec == nil:
		return nil, nil
	}
	return rec.MarshalCompact()
}

// onChange is the watcher's OnChange: re-read what changed and tell the
// editor what it means.
func (m *Manager) onChange(c watch.Change) {
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
	defer cancel()
	m.evMu.Lock()
	defer m.evMu.Unlock()
	policyChanged := c.Config && m.reloadConfig()
	if c.Auth || policyChanged {
		if err := m.adopt(ctx, true, policyChanged); err != nil && !isCorrupt(err) {
			m.log.Warn("re-reading the credentials after a change failed", "err", err)
		}
	}
	if c.Auth || c.Accounts || policyChanged {
		// After account/updated: the list as it now is (an inactive
		// account forgotten elsewhere changes only the index).
		m.tellAccounts()
	}
}

// reloadConfig re-reads the configuration layers, if Options.ConfigReload
// is set, and reports whether the policy in force changed, or the note
// of a changed cli_auth_credentials_store (see checkStoreMode). A config
// that cannot be read (a file being edited, a syntax error) keeps the
// policy in force. The caller holds evMu.
func (m *Manager) reloadConfig() bool {
	if m.opts.ConfigReload == nil {
		return false
	}
	cfg, err := m.opts.ConfigReload()
	if err != nil {
		m.log.Warn("reading the configuration failed; the policy in force stays", "err", err)
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	storeChanged := m.checkStoreMode(cfg)
	before := m.policyOf(m.cfg)
	m.cfg = cfg
	after := m.policyOf(cfg)
	if samePolicy(before, after) {
		return storeChanged
	}
	m.log.Info("managed policy changed", "forcedLoginMethod", after.ForcedLoginMethod, "forcedWorkspaces", after.ForcedWorkspaceIDs, "allowedProviders", after.AllowedProviders)
	return true
}

// checkStoreMode notes a change of cli_auth_credentials_store since it
// was first read, and reports whether that note changed. The store in use
// is not switched while running: a flow or refresh in flight would save
// to the other store, the watcher follows the old one, and the Codex CLI
// too reads the setting only when it starts (a running Codex keeps its
// store), so a restart is what both need. Until then account/read says
// so in problem (and account/updated asks the editor to read it). The
// caller holds mu.
func (m *Manager) checkStoreMode(cfg store.Config) bool {
	mode, err := store.ParseMode(string(cfg.CredentialsStore))
	if err != nil {
		return false
	}
	if m.modeBase == nil {
		m.modeBase = &mode
		return false
	}
	notice := ""
	if mode != *m.modeBase {
		notice = fmt.Sprintf("cli_auth_credentials_store changed to %q in the configuration, but codex-auth keeps using its %s store until it is restarted; restart it (reload the editor window) so that it and the Codex CLI use the same store",
			mode, m.opts.Store.Location().Mode)
	}
	if notice == m.storeNotice {
		return false
	}
	if notice != "" {
		m.log.Warn("the credentials store setting changed; restart to use it", "setting", mode, "inUse", m.opts.Store.Location().Mode)
	}
	m.storeNotice = notice
	return true
}

// adopt loads the stored record, enforces the policy on it, and makes it
// the in-memory view. With notify, the change from what the editor was
// last told is classified and notified (SessionInvalidated, then Updated;
// Updated also when policyChanged, so the editor re-reads the policy).
// A policy violation is always notified. It returns the load error: a
// *store.CorruptError is adopted (Status reports it), any other error
// keeps the record known before. The caller holds evMu.
func (m *Manager) adopt(ctx context.Context, notify, policyChanged bool) error {
	rec, err := m.opts.Store.Load(ctx)
	// A refreshed token set whose save failed stands in for the stored
	// record that still holds the spent refresh token.
	rec, _ = m.withPending(rec)
	next := snapshotOf(rec, err)
	if next.State == snapUnavailable {
		m.mu.Lock()
		known := m.rec != nil
		if !known {
			// Nothing known to keep: Status reports why.
			m.loadErr = err
		}
		m.mu.Unlock()
		if known {
			m.log.Warn("the credentials could not be read; keeping the last known state", "err", err)
		} else {
			m.log.Debug("the credentials could not be read", "err", err)
		}
		return err
	}
	if err == nil {
		var pe *PolicyError
		if perr := m.policy().CheckRecord(rec); errors.As(perr, &pe) {
			// Delete only what violates: re-checked under the store's
			// locks, so a compliant login written since (ours, or the
			// Codex CLI's, which holds auth.lock across its login) is
			// kept and adopted below instead.
			deleted, cur, derr := m.opts.Store.DeleteIf(ctx, m.violates)
			switch {
			case deleted:
				m.violation(pe, nil)
				return nil
			case derr == nil:
				m.log.Info("the credentials the policy forbids were replaced before they were removed")
				rec, err = cur, nil
			case isCorrupt(derr):
				rec, err = nil, derr
			default:
				m.violation(pe, derr)
				return nil
			}
			next = snapshotOf(rec, err)
		}
	}

	m.mu.Lock()
	prev := m.last
	v := classify(prev, next)
	if m.opts.Provider != nil && v.Invalidation == ReasonLoggedOut {
		v.Message = providerMsgLoggedOut // the Codex CLI never signs a provider out
	}
	m.rec, m.loadErr = rec, err
	if prev.State != next.State || prev.Identity != next.Identity {
		// Another login, a logout or a corruption: a refresh in flight
		// must not bring the old credentials back, and a dead refresh
		// token is forgotten.
		m.gen++
		m.refresh.reset()
		m.notice = ""
	}
	m.last = next
	m.kickAhead()
	m.mu.Unlock()

	if v.Refreshed {
		m.log.Debug("adopted tokens refreshed by another process")
	}
	if !notify {
		return err
	}
	if prev != next {
		// Before the editor hears of it: an editor lists the saved
		// accounts after every account/updated.
		m.syncSaved(ctx)
	}
	if v.Invalidation != "" {
		m.log.Info("session invalidated elsewhere", "reason", v.Invalidation)
		m.editor.SessionInvalidated(Invalidation{Reason: v.Invalidation, Message: v.Message})
	}
	if v.Changed || policyChanged {
		m.editor.AccountUpdated(m.updatedOf(rec))
	}
	if m.traceAdopt != nil {
		m.traceAdopt(v)
	}
	return err
}

// violates reports whether the policy in force forbids rec.
func (m *Manager) violates(rec *store.Record) bool {
	var pe *PolicyError
	return errors.As(m.policy().CheckRecord(rec), &pe)
}

// violation records that stored credentials the policy forbids were
// logged out (in every store, by adopt's DeleteIf) and notifies
// policyViolation (Codex's message) and Updated. If the record could not
// be deleted (derr), it is still never served: the policy error stands
// in for it until the next change. The caller holds evMu.
func (m *Manager) violation(pe *PolicyError, derr error) {
	// Info: the editor hears it (policyViolation), the CLI prints it.
	m.log.Info("the stored credentials violate the managed policy; logging out", "reason", pe.Message)
	if derr != nil {
		m.log.Error("could not delete the credentials the policy forbids", "err", derr)
	}
	m.mu.Lock()
	m.rec, m.loadErr = nil, nil
	m.notice = pe.Message + policyNoticeSuffix
	if derr != nil {
		m.loadErr = fmt.Errorf("%w", pe)
	}
	m.last = snapshot{State: snapLoggedOut}
	m.gen++
	m.refresh.reset()
	m.mu.Unlock()
	m.editor.SessionInvalidated(Invalidation{Reason: ReasonPolicyViolation, Message: pe.Message + policyLogoutSuffix})
	m.editor.AccountUpdated(AccountUpdated{})
}
