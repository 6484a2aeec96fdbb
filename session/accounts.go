package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// Several accounts. Every account that becomes active is saved (package
// store keeps the copies, and mirrors the active record into its copy on
// every write of its own); this file is what the Manager does with them:
//   - changes made elsewhere (the Codex CLI's login, refresh or logout,
//     another sidecar's switch) are mirrored when the watcher reports them
//     (syncSaved), before the editor hears of them;
//   - a switch, under the locks the Codex CLI takes, writes the active
//     record back to its copy and makes the chosen copy the active record;
//   - an inactive account's copy is refreshed only when it is used
//     (AccountToken) or switched to; the active account's copy never is
//     (that would redeem a refresh token the active record also holds);
//   - a rejected refresh token marks its account needsLogin; an account
//     the policy forbids stays saved, is marked, and cannot be activated.

// SavedStore keeps the saved accounts (*store.Store opened with
// SavedAccounts implements it).
type SavedStore interface {
	// Accounts runs fn holding the saved accounts' locks and auth.lock.
	Accounts(ctx context.Context, fn func(tx *store.SavedTx) error) error
	// SavedAccounts lists them without a lock.
	SavedAccounts(ctx context.Context) (store.SavedList, error)
}

// AccountList is accountSession/list's answer: never a secret.
type AccountList struct {
	// ActiveID is the saved account that is the active record ("" none).
	ActiveID string
	// Accounts, most recently used first.
	Accounts []SavedAccount
	// Problems are saved accounts that cannot be read (a corrupt copy):
	// skipped, each a message safe to show.
	Problems []string
}

// SavedAccount is one saved account as the editor sees it.
type SavedAccount struct {
	SessionID string
	// Type is AccountChatGPT, AccountAPIKey or AccountAccessToken.
	Type        AccountType
	Email       string
	UserID      string
	DisplayName string
	ImageURL    string
	LastUsedAt  time.Time
	// SelectedWorkspaceID is the ChatGPT workspace of this login.
	SelectedWorkspaceID string
	Workspaces          []Workspace
	PlanType            string
	APIKeyHint          string
	// NeedsLogin: its refresh token was rejected; sign in again as it.
	NeedsLogin bool
	// Forbidden is the policy's message when the managed policy forbids
	// it ("" when allowed).
	Forbidden string
}

// Workspace is a ChatGPT workspace of a saved account.
type Workspace struct {
	AccountID, Name, ImageURL, Kind string
}

// AccountAccessToken is the saved-account type of a personal access
// token or an agent identity.
const AccountAccessToken AccountType = "accessToken"

// Errors of the saved accounts; package rpc maps each to its code.
var (
	// ErrUnknownAccount: no saved account answers to the id or email
	// (*store.NotSavedError says why).
	ErrUnknownAccount = store.ErrNotSaved
	// ErrNeedsLogin: the saved account's refresh token was rejected;
	// errors.Is(err, ErrSessionExpired) holds.
	ErrNeedsLogin error = needsLoginError{}
	// errNoSaved: the Manager has no SavedStore.
	errNoSaved = fmt.Errorf("saved accounts are not available here: %w", store.ErrUnavailable)
)

type needsLoginError struct{}

func (needsLoginError) Error() string {
	return "that saved account must sign in again: its refresh token was rejected"
}
func (needsLoginError) Unwrap() error { return ErrSessionExpired }

// switchedMessage is the invalidation an editor holding the old
// account's token hears after a switch.
const switchedMessage = "Switched to another saved account."

// Accounts answers accountSession/list: the saved accounts, the active
// one named by the record in memory (what account/read shows). A saved
// copy that cannot be read is skipped and reported.
func (m *Manager) Accounts(ctx context.Context) (AccountList, error) {
	if m.opts.Saved == nil {
		return AccountList{}, errNoSaved
	}
	l, err := m.opts.Saved.SavedAccounts(ctx)
	if err != nil {
		return AccountList{}, err
	}
	for _, p := range l.Problems {
		m.log.Warn("a saved account cannot be read; skipped", "err", p)
	}
	return m.listOf(l), nil
}

// listTold is what the editor last heard of the saved accounts.
type listTold struct {
	known bool
	key   string
}

// listKey is what of l an account list shows: every account (by id, in
// id order) with all it shows but lastUsedAt, so that a use alone (which
// only reorders the list) is no change, and the active one.
func listKey(l AccountList) string {
	accts := slices.Clone(l.Accounts)
	for i := range accts {
		accts[i].LastUsedAt = time.Time{}
	}
	slices.SortFunc(accts, func(a, b SavedAccount) int { return strings.Compare(a.SessionID, b.SessionID) })
	b, _ := json.Marshal(struct {
		Active   string
		Accounts []SavedAccount
		Problems int
	}{l.ActiveID, accts, len(l.Problems)})
	return string(b)
}

// tellAccounts sends accountSession/updated when the saved accounts, as a
// list shows them, differ from what the editor last heard; the first call
// (Start) only notes them. A list that cannot be read is skipped: the
// next change tries again. Called after the changes that may change the
// list (the watcher's, the Manager's own), with no lock of the Manager's
// held but evMu.
func (m *Manager) tellAccounts() {
	if m.opts.Saved == nil {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
	defer cancel()
	if _, err := m.listAndTell(ctx); err != nil {
		m.log.Debug("the saved accounts could not be listed for the editor", "err", err)
	}
}

// accountsAfter answers a request that changed the saved accounts: the
// list after the change, which the editor also hears (tellAccounts) when
// it changed, so that the reply and the notification are one listing.
func (m *Manager) accountsAfter(ctx context.Context) (AccountList, error) {
	l, err := m.listAndTell(ctx)
	if err != nil {
		return AccountList{}, err
	}
	for _, p := range l.Problems {
		m.log.Warn("a saved account cannot be read; skipped", "err", p)
	}
	return m.listOf(l), nil
}

// listAndTell lists the saved accounts and tells the editor when the list
// changed, under toldMu: the list told last is the newest.
func (m *Manager) listAndTell(ctx context.Context) (store.SavedList, error) {
	m.toldMu.Lock()
	defer m.toldMu.Unlock()
	l, err := m.opts.Saved.SavedAccounts(ctx)
	if err != nil {
		return store.SavedList{}, err
	}
	list := m.listOf(l)
	key := listKey(list)
	if m.told.known && m.told.key == key {
		return l, nil
	}
	first := !m.told.known
	m.told = listTold{known: true, key: key}
	if !first {
		m.editor.AccountsUpdated(list)
	}
	return l, nil
}

// listOf converts the store's list for the editor.
func (m *Manager) listOf(l store.SavedList) AccountList {
	m.mu.Lock()
	active, dead := m.rec, m.refresh.dead
	m.mu.Unlock()
	activeIdent := ""
	if active != nil && active.Supported() {
		activeIdent = active.Identity()
	}
	out := AccountList{Accounts: []SavedAccount{}}
	for _, p := range l.Problems {
		out.Problems = append(out.Problems, problemText(p))
	}
	for _, e := range l.Accounts {
		a := SavedAccount{
			SessionID:           e.SessionID,
			Email:               e.Email,
			UserID:              e.UserID,
			DisplayName:         e.DisplayName,
			ImageURL:            e.ImageURL,
			LastUsedAt:          e.LastUsedAt,
			SelectedWorkspaceID: e.SelectedWorkspaceAccountID,
			NeedsLogin:          e.NeedsLogin,
			Workspaces:          []Workspace{},
		}
		for _, w := range e.Workspaces {
			a.Workspaces = append(a.Workspaces, Workspace{AccountID: w.AccountID, Name: w.Name, ImageURL: w.ImageURL, Kind: w.Kind})
		}
		v := e.Record.Account()
		switch v.Mode {
		case store.AuthModeAPIKey:
			a.Type, a.APIKeyHint = AccountAPIKey, v.APIKeyHint
		case store.AuthModeChatGPT:
			a.Type, a.PlanType = AccountChatGPT, v.PlanType
		default:
			a.Type, a.PlanType = AccountAccessToken, v.PlanType
		}
		if activeIdent != "" && e.Record.Identity() == activeIdent {
			out.ActiveID = e.SessionID
			if active.Tokens != nil && dead != "" && dead == active.Tokens.RefreshToken {
				a.NeedsLogin = true
			}
			if u := m.updatedOf(active); u.Email != "" && a.Email == "" {
				a.Email, a.PlanType = u.Email, u.PlanType
			}
		}
		a.Forbidden = m.forbidden(e.Record)
		out.Accounts = append(out.Accounts, a)
	}
	return out
}

// forbidden is the policy's message when the policy in force forbids the
// record ("" when it allows it). Access tokens follow Codex: a forced
// login method of "api" forbids them, and an agent identity's workspace
// claim is checked; a personal access token's workspace (known from
// whoami only) is checked when it becomes active.
func (m *Manager) forbidden(rec *store.Record) string {
	p := m.policy()
	var err error
	switch rec.EffectiveMode() {
	case store.AuthModeAPIKey, store.AuthModeChatGPT:
		err = p.CheckRecord(rec)
	case store.AuthModePersonalAccessToken:
		err = p.CheckLogin(LoginMethodAccessToken)
	case store.AuthModeAgentIdentity:
		if err = p.CheckLogin(LoginMethodAccessToken); err == nil {
			err = p.CheckAccessTokenWorkspace(rec.Account().WorkspaceID)
		}
	}
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return ""
}

// syncSaved brings the saved accounts in step with the stored record,
// after a change made elsewhere (or at Start): the active record is
// mirrored into its account's copy (added when new: a login of the Codex
// CLI); when the record is gone, the account that was active was logged
// out (by the Codex CLI, another editor) and its copy is removed, unless
// the policy forbids it (the Codex CLI logs out what the policy forbids:
// the copy stays, marked). A record that cannot be read changes nothing.
// The caller holds evMu. Failures are logged: the next change retries.
func (m *Manager) syncSaved(ctx context.Context) {
	if m.opts.Saved == nil {
		return
	}
	err := m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
		cur, err := tx.Active()
		switch {
		case err != nil:
			return nil
		case cur != nil:
			if !cur.Supported() {
				return nil
			}
			if _, err := tx.Mirror(cur); err != nil && !errors.Is(err, store.ErrUnidentified) {
				return err
			}
			return nil
		}
		id := tx.ActiveID()
		if id == "" {
			return nil
		}
		if saved, err := tx.Load(id); err == nil && saved != nil && m.forbidden(saved) != "" {
			tx.SetActiveID("")
			return nil
		}
		m.log.Info("the active account was logged out elsewhere; removing its saved copy", "sessionId", id)
		return tx.Remove(id)
	})
	if err != nil {
		m.log.Warn("could not bring the saved accounts in step with the stored credentials", "err", err)
	}
}

// SwitchAccount answers accountSession/switch: under the store's locks
// (those the Codex CLI takes), the active record is written back to its
// saved copy, then the chosen account's copy becomes the active record
// (auth.json or Codex's keyring entry), refreshed first when it is inside
// the Codex CLI's refresh window. ref is a session id, or an email one
// saved account has. Switching to the active account changes nothing.
// Refused: an account the policy forbids (*PolicyError), one that must
// sign in again (ErrNeedsLogin), none answering to ref
// (ErrUnknownAccount).
func (m *Manager) SwitchAccount(ctx context.Context, ref string) (AccountList, error) {
	if m.opts.Saved == nil {
		return AccountList{}, errNoSaved
	}
	if strings.TrimSpace(ref) == "" {
		return AccountList{}, &InputError{Field: "sessionId", Reason: "must not be empty"}
	}
	m.evMu.Lock()
	var next *store.Record
	err := m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
		var err error
		next, err = m.switchTx(tx, ref)
		return err
	})
	if err == nil && next != nil {
		m.switched(next)
	}
	m.evMu.Unlock()
	if err != nil {
		return AccountList{}, err
	}
	return m.accountsAfter(ctx)
}

// switchTx is the switch inside the store's transaction; nil when the
// account is already active.
func (m *Manager) switchTx(tx *store.SavedTx, ref string) (*store.Record, error) {
	e, err := tx.Find(ref)
	if err != nil {
		return nil, err
	}
	cur, err := tx.Active()
	if err != nil {
		// Switching would overwrite credentials that cannot be saved.
		return nil, fmt.Errorf("the stored credentials cannot be kept before switching: %w", err)
	}
	if cur != nil && tx.IDOf(cur) == e.SessionID {
		return nil, nil
	}
	rec, err := tx.Load(e.SessionID)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, &store.NotSavedError{Reason: "that saved account has no saved credentials"}
	}
	if !rec.Supported() {
		return nil, ErrUnsupportedRecord
	}
	if msg := m.forbidden(rec); msg != "" {
		return nil, &PolicyError{Message: msg}
	}
	if e.NeedsLogin {
		return nil, ErrNeedsLogin
	}
	if cur != nil {
		if !cur.Supported() {
			return nil, fmt.Errorf("the stored credentials cannot be kept before switching: %w", ErrUnsupportedRecord)
		}
		if _, err := tx.Put(cur); err != nil {
			return nil, fmt.Errorf("saving the active account before switching: %w", err)
		}
	}
	if rec.EffectiveMode() == store.AuthModeChatGPT && insideCodexWindow(rec, m.opts.Now()) {
		// The Codex CLI would refresh it as soon as it reads it; refreshed
		// here, under the lock, it finds a fresh token.
		next, err := m.refreshSaved(tx, e.SessionID, rec, refreshDue)
		switch {
		case errors.Is(err, ErrSessionExpired):
			return nil, err
		case err != nil:
			m.log.Info("refreshing the account switched to failed; switching with its saved tokens", "err", err)
		default:
			rec = next
		}
	}
	if err := tx.Activate(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// switched makes rec, just made the active record by a switch, the
// in-memory record, and tells the editor: accountChanged when it held
// another account, then account/updated. The caller holds evMu.
func (m *Manager) switched(rec *store.Record) {
	m.mu.Lock()
	held := m.rec != nil && m.rec.Supported()
	m.rec, m.loadErr, m.notice = rec.Clone(), nil, ""
	m.last = snapshotOf(rec, nil)
	m.gen++
	m.refresh.reset()
	m.kickAhead()
	m.mu.Unlock()
	if w := m.watcher.Load(); w != nil {
		w.Resync()
	}
	if t, ok := rec.PersonalAccessTokenOf(); ok {
		m.accessTokenInfo(t, false)
	}
	if held {
		m.editor.SessionInvalidated(Invalidation{Reason: ReasonAccountChanged, Message: switchedMessage})
	}
	m.editor.AccountUpdated(m.updatedOf(rec))
}

// refreshSaved redeems the refresh token of an inactive account's saved
// copy (never the active one's) and saves the result there, in the
// store's transaction. A rejected token marks the account needsLogin.
func (m *Manager) refreshSaved(tx *store.SavedTx, id string, rec *store.Record, kind refreshKind) (*store.Record, error) {
	callCtx, cancel := context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
	ts, err := m.opts.Issuer.Refresh(callCtx, rec.Tokens.RefreshToken, kind.reason())
	cancel()
	if err != nil {
		var ie *IssuerError
		if errors.As(err, &ie) && ie.Permanent() {
			tx.SetNeedsLogin(id, true)
			return nil, fmt.Errorf("%w (%w)", ErrNeedsLogin, &ExpiredError{Code: ie.Code})
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("refresh timed out: %w", ErrIssuerUnavailable)
		}
		return nil, err
	}
	next := withTokens(rec, ts, m.opts.Now())
	if _, err := tx.Put(next); err != nil {
		// The issuer answered: the old refresh token is spent, and the
		// new one exists only here. It is served; the account will need a
		// new sign-in if it is never saved.
		m.log.Error("saving a saved account's refreshed tokens failed", "err", err)
	}
	return next, nil
}

// withTokens is rec with a refresh's answer: every field given replaces
// the stored one; last_refresh is now.
func withTokens(rec *store.Record, ts TokenSet, now time.Time) *store.Record {
	next := rec.Clone()
	if ts.IDToken != "" {
		next.Tokens.IDToken = ts.IDToken
	}
	if ts.AccessToken != "" {
		next.Tokens.AccessToken = ts.AccessToken
	}
	if ts.RefreshToken != "" {
		next.Tokens.RefreshToken = ts.RefreshToken
	}
	at := now.UTC()
	next.LastRefresh = &at
	return next
}

// AccountToken answers account/token with a sessionId: a token for that
// saved account. For the active account it is Token; for another, its
// saved copy's key or token, refreshed first when it expires within the
// refresh window or when refresh is set (a forced refresh is satisfied by
// a token stored in the last few seconds, or other than the one last
// served). Using it counts as a use (lastUsedAt).
func (m *Manager) AccountToken(ctx context.Context, ref string, refresh bool) (Token, error) {
	if ref == "" {
		return m.Token(ctx, refresh)
	}
	if m.opts.Saved == nil {
		return Token{}, errNoSaved
	}
	var (
		tok    Token
		active bool
	)
	err := m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
		e, err := tx.Find(ref)
		if err != nil {
			return err
		}
		cur, cerr := tx.Active()
		if (cerr == nil && cur != nil && tx.IDOf(cur) == e.SessionID) || (cerr != nil && tx.ActiveID() == e.SessionID) {
			active = true
			return nil
		}
		rec, err := tx.Load(e.SessionID)
		if err != nil {
			return err
		}
		if rec == nil {
			return &store.NotSavedError{Reason: "that saved account has no saved credentials"}
		}
		if !rec.Supported() {
			return ErrUnsupportedRecord
		}
		if msg := m.forbidden(rec); msg != "" {
			return &PolicyError{Message: msg}
		}
		if e.NeedsLogin {
			return ErrNeedsLogin
		}
		tok, err = m.savedToken(tx, e.SessionID, rec, refresh)
		if err != nil {
			return err
		}
		tx.Touch(e.SessionID)
		return nil
	})
	if err != nil {
		return Token{}, err
	}
	if active {
		return m.Token(ctx, refresh)
	}
	return tok, nil
}

// savedToken is the token of an inactive saved account's copy.
func (m *Manager) savedToken(tx *store.SavedTx, id string, rec *store.Record, refresh bool) (Token, error) {
	switch rec.EffectiveMode() {
	case store.AuthModeAPIKey:
		return Token{Type: AccountAPIKey, APIKey: *rec.APIKey}, nil
	case store.AuthModePersonalAccessToken:
		t, _ := rec.PersonalAccessToken()
		return Token{Type: AccountPersonalAccessToken, AccessToken: t}, nil
	case store.AuthModeAgentIdentity:
		return Token{}, errAgentIdentityToken
	}
	now := m.opts.Now()
	m.mu.Lock()
	served := m.savedServed[id]
	m.mu.Unlock()
	need := !fresh(rec, now, m.dueWindow(rec))
	if refresh && !need {
		recent := storedWithin(rec, now, capped(coalesceWindow, rec, 0.25))
		need = !recent && (served == "" || served == rec.Tokens.AccessToken)
	}
	if need {
		kind := refreshDue
		if refresh {
			kind = refreshForced
		}
		next, err := m.refreshSaved(tx, id, rec, kind)
		switch {
		case err == nil:
			rec = next
		case !refresh && !errors.Is(err, ErrSessionExpired) && unexpired(rec, m.opts.Now()):
			// A transient failure while the token still works: served.
		default:
			return Token{}, err
		}
	}
	m.mu.Lock()
	if m.savedServed == nil {
		m.savedServed = map[string]string{}
	}
	m.savedServed[id] = rec.Tokens.AccessToken
	m.mu.Unlock()
	a := accountOf(rec)
	return Token{Type: AccountChatGPT, AccessToken: rec.Tokens.AccessToken, ExpiresAt: a.ExpiresAt, AccountID: a.WorkspaceID}, nil
}

// LogoutAccount answers accountSession/logout: the account is revoked at
// the issuer (in the background, as a logout is) and its saved copy
// removed. The active account is logged out exactly as Logout does (no
// other account becomes active).
func (m *Manager) LogoutAccount(ctx context.Context, ref string) (AccountList, error) {
	if _, _, err := m.logoutAccount(ctx, ref); err != nil {
		return AccountList{}, err
	}
	return m.accountsAfter(ctx)
}

// LogoutAccountAndRevoke is LogoutAccount that waits for the revoke, as
// LogoutAndRevoke does (the CLI's `logout --account`).
func (m *Manager) LogoutAccountAndRevoke(ctx context.Context, ref string) (LogoutResult, error) {
	done, existed, err := m.logoutAccount(ctx, ref)
	if err != nil {
		return LogoutResult{}, err
	}
	m.tellAccounts()
	return m.waitRevoke(ctx, done, existed), nil
}

// logoutAccount removes the saved account ref names (or logs the active
// one out) and starts its revoke; done receives the revoke's result (nil
// when there is nothing to revoke).
func (m *Manager) logoutAccount(ctx context.Context, ref string) (done <-chan error, existed bool, err error) {
	if m.opts.Saved == nil {
		return nil, false, errNoSaved
	}
	var (
		prev   *store.Record
		active bool
	)
	err = m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
		e, err := tx.Find(ref)
		if err != nil {
			return err
		}
		if m.isActive(tx, e.SessionID) {
			active = true
			return nil
		}
		prev, _ = tx.Load(e.SessionID) // a corrupt copy is removed all the same
		return tx.Remove(e.SessionID)
	})
	if err != nil {
		return nil, false, err
	}
	if active {
		return m.logout(ctx)
	}
	return m.revokeLater(prev), true, nil
}

// ForgetAccount answers accountSession/forget: a saved account that is
// not active is dropped without being revoked.
func (m *Manager) ForgetAccount(ctx context.Context, ref string) (AccountList, error) {
	if m.opts.Saved == nil {
		return AccountList{}, errNoSaved
	}
	err := m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
		e, err := tx.Find(ref)
		if err != nil {
			return err
		}
		if m.isActive(tx, e.SessionID) {
			return &InputError{Field: "sessionId", Reason: "is the active account: switch first or log out"}
		}
		return tx.Remove(e.SessionID)
	})
	if err != nil {
		return AccountList{}, err
	}
	return m.accountsAfter(ctx)
}

// isActive reports whether id is the account of the active record (or,
// when that cannot be read, the one the index names active).
func (m *Manager) isActive(tx *store.SavedTx, id string) bool {
	cur, err := tx.Active()
	if err != nil {
		return tx.ActiveID() == id
	}
	return cur != nil && tx.IDOf(cur) == id
}

// markNeedsLogin records, in the background, that rec's refresh token
// (the active record's) was rejected: its saved account needs a login.
func (m *Manager) markNeedsLogin(rec *store.Record) {
	if m.opts.Saved == nil || rec == nil || rec.Tokens == nil || m.ctx.Err() != nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
		defer cancel()
		err := m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
			id := tx.IDOf(rec)
			saved, err := tx.Load(id)
			if err == nil && saved != nil && saved.Tokens != nil && saved.Tokens.RefreshToken == rec.Tokens.RefreshToken {
				tx.SetNeedsLogin(id, true)
			}
			return nil
		})
		if err != nil {
			m.log.Debug("could not mark the saved account as needing a login", "err", err)
			return
		}
		m.tellAccounts()
	}()
}
