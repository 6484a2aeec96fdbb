package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Saved accounts: every account that becomes active is kept, one auth
// record per identity, so that one can switch back to it in place. The
// active account stays in auth.json (or Codex's keyring entry) exactly as
// before; its saved copy mirrors it: the Store's own writes (Update,
// Replace) copy the record they store, under the same hold of the locks,
// and a logout (Take, Delete) removes it. Changes made by other programs
// are mirrored by whoever notices them (session, through Accounts).
//
// Locks, always in this order: account-sessions.lock (the index's own),
// then auth.lock (the one the Codex CLI takes), both held by every write
// of a saved account or of the active record.

// Errors of the saved accounts.
var (
	// ErrNotSaved: no saved account answers to the id or email given.
	ErrNotSaved = errors.New("no such saved account")
	// ErrUnidentified: the record does not say whose it is (a ChatGPT
	// record whose ID token names no user, an unsupported mode): it
	// cannot be saved.
	ErrUnidentified = errors.New("the credentials do not say whose they are, so they cannot be saved as an account")
	// ErrActiveChanged: Update found, just before writing, that the
	// stored record had become another account's (a program that writes
	// without auth.lock); what fn returned was saved to the saved copy of
	// its own account instead, and the active record was left alone.
	ErrActiveChanged = errors.New("the stored account changed during the update; the new credentials were kept in the saved copy of their account")
	// errSavedOff: the Store was opened without SavedAccounts.
	errSavedOff = errors.New("store: saved accounts are not enabled")
)

// NotSavedError says why a reference names no single saved account. It
// never repeats the reference (a client could have put a secret there).
type NotSavedError struct {
	// Reason is safe to show.
	Reason string
}

func (e *NotSavedError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrNotSaved) true.
func (e *NotSavedError) Unwrap() error { return ErrNotSaved }

// SavedEntry is a saved account with its saved copy.
type SavedEntry struct {
	SavedAccount
	// Record is the saved copy (it holds secrets: never shown).
	Record *Record
}

// SavedList is what is saved: the accounts whose copy can be read, most
// recently used first, and the copies that cannot (each a
// *CorruptError, or the error reading it), which are skipped.
type SavedList struct {
	// ActiveID is the index's activeSessionId: the account auth.json
	// held when the index was last written ("" none).
	ActiveID string
	Accounts []SavedEntry
	Problems []error
}

// savedStore is the saved accounts of one home in one mode.
type savedStore struct {
	home   Home
	files  savedFiles
	recs   savedBackend
	mem    *savedMemory // ephemeral mode: no folders, no index file
	logger *slog.Logger
	now    func() time.Time

	mu       sync.Mutex  // guards memIndex
	memIndex *savedIndex // ephemeral mode's index
}

func newSavedStore(home Home, mode Mode, kr *keyringBackend, logger *slog.Logger, now func() time.Time) *savedStore {
	files := savedFiles{dir: filepath.Join(home.Dir, SavedDirName)}
	ss := &savedStore{home: home, files: files, logger: logger, now: now}
	switch mode {
	case ModeEphemeral:
		ss.mem = &savedMemory{}
		ss.recs = ss.mem
	case ModeKeyring, ModeAuto:
		ss.recs = savedKeyring{kr: kr, home: home, files: files, auto: mode == ModeAuto}
	default:
		ss.recs = files
	}
	return ss
}

func (ss *savedStore) indexPath() string { return filepath.Join(ss.home.Dir, SavedIndexName) }

// ids are the saved accounts that exist as folders (or in memory).
func (ss *savedStore) ids() ([]string, error) {
	if ss.mem != nil {
		return ss.mem.ids(), nil
	}
	return ss.files.ids()
}

// readIndex reads the index, rebuilding what is missing from the saved
// records: an index that is lost or does not parse is rebuilt from them
// (reported), and a folder the index does not name is added. dirty says
// the index on disk differs from the one returned. load reads a record.
func (ss *savedStore) readIndex(ctx context.Context, load func(id string) (*Record, error)) (x *savedIndex, dirty bool, err error) {
	if ss.mem != nil {
		ss.mu.Lock()
		x = cloneIndex(ss.memIndex)
		ss.mu.Unlock()
	} else {
		sweepIfFree(ss.indexPath(), savedLockName, ss.logger)
		data, rerr := os.ReadFile(ss.indexPath())
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			x, dirty = &savedIndex{}, true
		case rerr != nil:
			return nil, false, fmt.Errorf("read %s: %w: %w", ss.indexPath(), ErrUnavailable, rerr)
		default:
			var perr error
			x, perr = parseSavedIndex(ss.indexPath(), data)
			var se *SchemaError
			switch {
			case errors.As(perr, &se):
				return nil, false, perr
			case perr != nil:
				ss.logger.Warn("the saved accounts' index is not valid; rebuilding it from the saved records", "path", ss.indexPath(), "reason", perr.Error())
				x, dirty = &savedIndex{}, true
			}
		}
	}
	ids, err := ss.ids()
	if err != nil {
		return nil, false, err
	}
	rebuilt := 0
	for _, id := range ids {
		if x.find(id) >= 0 {
			continue
		}
		rec, lerr := load(id)
		var ce *CorruptError
		switch {
		case lerr == nil && rec != nil:
			a := SavedAccount{SessionID: id, LastUsedAt: ss.folderTime(id, rec)}
			fillFromRecord(&a, rec)
			x.accounts = append(x.accounts, a)
		case errors.As(lerr, &ce):
			// Listed (and reported as corrupt) until it is fixed,
			// forgotten or replaced by a new login as its account.
			x.accounts = append(x.accounts, SavedAccount{SessionID: id, LastUsedAt: ss.folderTime(id, nil)})
		default:
			continue // nothing readable there now (an empty folder, a keyring that does not answer)
		}
		dirty = true
		rebuilt++
	}
	if rebuilt > 0 {
		ss.logger.Info("added saved accounts the index did not list", "count", rebuilt)
	}
	return x, dirty, nil
}

// folderTime is when a saved account found without an index entry was
// last used, as well as can be told: its last_refresh, else its folder's
// modification time.
func (ss *savedStore) folderTime(id string, rec *Record) time.Time {
	if rec != nil && rec.LastRefresh != nil {
		return rec.LastRefresh.UTC().Truncate(time.Second)
	}
	if ss.mem == nil {
		if fi, err := os.Stat(filepath.Join(ss.files.dir, id)); err == nil {
			return fi.ModTime().UTC().Truncate(time.Second)
		}
	}
	return time.Time{}
}

// writeIndex replaces the index (atomically, 0600).
func (ss *savedStore) writeIndex(x *savedIndex) error {
	sortAccounts(x.accounts)
	if ss.mem != nil {
		ss.mu.Lock()
		ss.memIndex = cloneIndex(x)
		ss.mu.Unlock()
		return nil
	}
	data, err := x.marshal()
	if err != nil {
		return err
	}
	if err := ss.home.ensure(); err != nil {
		return err
	}
	sweepTemp(ss.indexPath(), ss.logger) // under account-sessions.lock
	return writeAtomic(ss.indexPath(), data)
}

func cloneIndex(x *savedIndex) *savedIndex {
	if x == nil {
		return &savedIndex{}
	}
	c := &savedIndex{active: x.active, extra: cloneFields(x.extra)}
	for _, a := range x.accounts {
		c.accounts = append(c.accounts, a.clone())
	}
	return c
}

// sortAccounts orders by lastUsedAt, newest first; within one second
// (lastUsedAt's precision) the order they are kept in stays, which is the
// order of use (Touch moves an account first).
func sortAccounts(as []SavedAccount) {
	slices.SortStableFunc(as, func(a, b SavedAccount) int {
		return b.LastUsedAt.Compare(a.LastUsedAt)
	})
}

// fillFromRecord sets what the record says of its account: email, user,
// workspace. What it does not say (a personal access token's email,
// known only from whoami; names and images) is left as it was.
func fillFromRecord(a *SavedAccount, rec *Record) {
	v := rec.Account()
	if v.Email != "" {
		a.Email = v.Email
	}
	if v.UserID != "" {
		a.UserID = v.UserID
	}
	if v.Mode == AuthModeChatGPT || v.Mode == AuthModeAgentIdentity {
		if v.WorkspaceID != "" {
			a.SelectedWorkspaceAccountID = v.WorkspaceID
			if !slices.ContainsFunc(a.Workspaces, func(w Workspace) bool { return w.AccountID == v.WorkspaceID }) {
				a.Workspaces = []Workspace{{AccountID: v.WorkspaceID}}
			}
		}
	}
}

// list is the saved accounts with their copies, reading the index (and
// the records) without writing anything.
func (ss *savedStore) list(ctx context.Context) (SavedList, error) {
	cache := map[string]recResult{}
	load := func(id string) (*Record, error) {
		if r, ok := cache[id]; ok {
			return r.rec.Clone(), r.err
		}
		rec, err := ss.recs.load(ctx, id)
		cache[id] = recResult{rec, err}
		return rec.Clone(), err
	}
	x, _, err := ss.readIndex(ctx, load)
	if err != nil {
		return SavedList{}, err
	}
	return listOf(x, load), nil
}

// listOf reads the copies of the index's accounts: readable ones are
// listed, corrupt or unreadable ones reported, missing ones (an entry
// another program keeps elsewhere) skipped.
func listOf(x *savedIndex, load func(id string) (*Record, error)) SavedList {
	l := SavedList{ActiveID: x.active}
	sorted := cloneIndex(x).accounts
	sortAccounts(sorted)
	for _, a := range sorted {
		rec, err := load(a.SessionID)
		switch {
		case err != nil:
			l.Problems = append(l.Problems, err)
		case rec == nil:
		case !rec.Supported():
			l.Problems = append(l.Problems, &CorruptError{Path: a.SessionID, Reason: "the saved record uses a sign-in method codex-auth does not support"})
		default:
			fillFromRecord(&a, rec)
			l.Accounts = append(l.Accounts, SavedEntry{SavedAccount: a, Record: rec})
		}
	}
	return l
}

type recResult struct {
	rec *Record
	err error
}

// SavedTx is one change of the saved accounts, made holding their locks
// (see Store.Accounts). Its methods must be called from fn only. Records
// it returns are copies the caller may change.
type SavedTx struct {
	s     *Store
	ctx   context.Context // writes run on it without its cancellation
	idx   *savedIndex
	dirty bool
	cache map[string]recResult
}

// Accounts runs fn with the saved accounts, holding account-sessions.lock
// and auth.lock (waiting at most until ctx ends or LockTimeout), so that
// fn sees and changes the active record and the saved copies as one. The
// index is written afterwards if fn changed it, even when fn fails (the
// records it wrote stay written). fn may make bounded network calls (a
// refresh of a saved copy) while the locks are held, as Update's fn may.
func (s *Store) Accounts(ctx context.Context, fn func(tx *SavedTx) error) error {
	if s.saved == nil {
		return errSavedOff
	}
	return s.locked(ctx, true, func() error { return s.inTx(ctx, fn) })
}

// inTx runs fn in a transaction; the caller holds the locks.
func (s *Store) inTx(ctx context.Context, fn func(tx *SavedTx) error) error {
	tx := &SavedTx{s: s, ctx: context.WithoutCancel(ctx), cache: map[string]recResult{}}
	x, dirty, err := s.saved.readIndex(ctx, tx.Load)
	if err != nil {
		return err
	}
	tx.idx, tx.dirty = x, dirty
	ferr := fn(tx)
	if tx.dirty {
		if err := s.saved.writeIndex(tx.idx); err != nil {
			return errors.Join(ferr, err)
		}
	}
	return ferr
}

// SavedIndexFile is the saved accounts' index (account-sessions.json,
// watched for changes made elsewhere); "" without SavedAccounts.
func (s *Store) SavedIndexFile() string {
	if s.saved == nil {
		return ""
	}
	return s.saved.indexPath()
}

// SavedAccounts lists the saved accounts without taking any lock (it
// reads files another process replaces atomically) and without writing:
// a lost or corrupt index is rebuilt in memory, and written by the next
// change (Accounts). Only with SavedAccounts.
func (s *Store) SavedAccounts(ctx context.Context) (SavedList, error) {
	if s.saved == nil {
		return SavedList{}, errSavedOff
	}
	return s.saved.list(ctx)
}

// Active is the active record (Load, under the locks the transaction
// holds): nil when none.
func (tx *SavedTx) Active() (*Record, error) { return tx.s.Load(tx.ctx) }

// ActiveID is the saved account the index names active ("" none).
func (tx *SavedTx) ActiveID() string { return tx.idx.active }

// SetActiveID names the active account in the index ("" none).
func (tx *SavedTx) SetActiveID(id string) {
	if id != "" && tx.idx.find(id) < 0 {
		id = ""
	}
	if tx.idx.active != id {
		tx.idx.active, tx.dirty = id, true
	}
}

// List is the saved accounts as the transaction sees them.
func (tx *SavedTx) List() SavedList { return listOf(tx.idx, tx.Load) }

// Load is the saved copy of id: nil when there is none, a *CorruptError
// when it does not parse. Read once per transaction.
func (tx *SavedTx) Load(id string) (*Record, error) {
	if r, ok := tx.cache[id]; ok {
		return r.rec.Clone(), r.err
	}
	rec, err := tx.s.saved.recs.load(tx.ctx, id)
	tx.cache[id] = recResult{rec, err}
	return rec.Clone(), err
}

// Find resolves a reference to a saved account: its session id, or an
// email (compared without regard to case) that exactly one saved account
// has. A *NotSavedError otherwise.
func (tx *SavedTx) Find(ref string) (SavedAccount, error) {
	ref = strings.TrimSpace(ref)
	if i := tx.idx.find(ref); i >= 0 && ref != "" {
		return tx.idx.accounts[i].clone(), nil
	}
	var hits []SavedAccount
	if strings.Contains(ref, "@") {
		for _, e := range tx.List().Accounts {
			if e.Email != "" && strings.EqualFold(e.Email, ref) {
				hits = append(hits, e.SavedAccount)
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0].clone(), nil
	case 0:
		return SavedAccount{}, &NotSavedError{Reason: "no saved account has that session id or email"}
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.SessionID
	}
	return SavedAccount{}, &NotSavedError{Reason: "several saved accounts have that email (" + strings.Join(ids, ", ") + "); give a session id"}
}

// IDOf is the saved account that holds (or would hold) r's identity: the
// one whose copy is r's identity when there is one (an account another
// program saved under an id of its own), else the id codex-auth derives.
// "" when r does not say whose it is.
func (tx *SavedTx) IDOf(r *Record) string {
	ident := r.Identity()
	if ident == "" {
		return ""
	}
	id := SessionID(ident)
	if tx.idx.find(id) >= 0 {
		return id
	}
	for _, a := range tx.idx.accounts {
		if rec, err := tx.Load(a.SessionID); err == nil && rec != nil && rec.Identity() == ident {
			return a.SessionID
		}
	}
	return id
}

// Put saves r as the copy of its account (writing only when it differs
// from the copy there), adding the account when it is new, and updates
// what the index says of it. A copy whose refresh token or key changes
// no longer needs a login. It returns the account's id.
func (tx *SavedTx) Put(r *Record) (string, error) {
	id := tx.IDOf(r)
	if id == "" {
		return "", ErrUnidentified
	}
	old, lerr := tx.Load(id)
	if lerr != nil && !isCorruptErr(lerr) {
		return "", lerr
	}
	if old == nil || !sameRecord(old, r) {
		if err := tx.s.saved.recs.save(tx.ctx, id, r); err != nil {
			return "", err
		}
		tx.cache[id] = recResult{r.Clone(), nil}
	}
	i := tx.idx.find(id)
	if i < 0 {
		tx.idx.accounts = append(tx.idx.accounts, SavedAccount{SessionID: id, LastUsedAt: tx.now()})
		i = len(tx.idx.accounts) - 1
		tx.dirty = true
	}
	a := &tx.idx.accounts[i]
	before, _ := a.marshal()
	fillFromRecord(a, r)
	if a.NeedsLogin && (old == nil || old.Identity() != r.Identity() || secretOf(old) != secretOf(r)) {
		a.NeedsLogin = false
	}
	if after, _ := a.marshal(); !bytes.Equal(before, after) {
		tx.dirty = true
	}
	return id, nil
}

// Mirror records r, the active record, as active: its copy is put (Put)
// and the index names it active; becoming active counts as a use. A
// record that does not say whose it is leaves no account active.
func (tx *SavedTx) Mirror(r *Record) (string, error) {
	id, err := tx.Put(r)
	if err != nil {
		tx.SetActiveID("")
		return "", err
	}
	if tx.idx.active != id {
		tx.SetActiveID(id)
		tx.Touch(id)
	}
	return id, nil
}

// Activate makes r the active record (auth.json or Codex's keyring entry,
// as Update saves it) and its account the active one (Mirror), counting
// as a use. The caller has written the previous active record back to its
// copy (Put) if it is to be kept.
func (tx *SavedTx) Activate(r *Record) error {
	if err := tx.s.save(tx.ctx, r.Clone()); err != nil {
		return err
	}
	id, err := tx.Mirror(r)
	if err == nil {
		tx.Touch(id)
	}
	return err
}

// Remove deletes the saved copy of id and its entry (and the index's
// active name, if it was active). Removing what is not there is success.
func (tx *SavedTx) Remove(id string) error {
	if err := tx.s.saved.recs.remove(tx.ctx, id); err != nil {
		return err
	}
	delete(tx.cache, id)
	if i := tx.idx.find(id); i >= 0 {
		tx.idx.accounts = slices.Delete(tx.idx.accounts, i, i+1)
		tx.dirty = true
	}
	if tx.idx.active == id {
		tx.SetActiveID("")
	}
	return nil
}

// SetNeedsLogin marks (or clears) that id's refresh token was rejected.
func (tx *SavedTx) SetNeedsLogin(id string, v bool) {
	if i := tx.idx.find(id); i >= 0 && tx.idx.accounts[i].NeedsLogin != v {
		tx.idx.accounts[i].NeedsLogin, tx.dirty = v, true
	}
}

// Touch records a use of id now (lastUsedAt), and makes it the first of
// the accounts used within the same second.
func (tx *SavedTx) Touch(id string) {
	i := tx.idx.find(id)
	if i < 0 {
		return
	}
	a := tx.idx.accounts[i]
	if now := tx.now(); !a.LastUsedAt.Equal(now) {
		a.LastUsedAt, tx.dirty = now, true
	}
	if i > 0 {
		tx.idx.accounts = slices.Insert(slices.Delete(tx.idx.accounts, i, i+1), 0, a)
		tx.dirty = true
	} else {
		tx.idx.accounts[0] = a
	}
}

func (tx *SavedTx) now() time.Time { return tx.s.opts.Now().UTC().Truncate(time.Second) }

func isCorruptErr(err error) bool {
	var ce *CorruptError
	return errors.As(err, &ce)
}

// sameRecord reports whether two records encode alike.
func sameRecord(a, b *Record) bool {
	x, err1 := a.MarshalCompact()
	y, err2 := b.MarshalCompact()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// secretOf fingerprints what a refresh rotates or a new login replaces:
// the refresh token, else the key or token.
func secretOf(r *Record) string {
	switch {
	case r == nil:
		return ""
	case r.Tokens != nil:
		return fingerprint(r.Tokens.RefreshToken)
	case r.APIKey != nil:
		return fingerprint(*r.APIKey)
	}
	b, _ := r.MarshalCompact()
	return fingerprint(string(b))
}

// mirrorLocked copies r, just stored as the active record, to its saved
// account (the caller holds the locks). A failure is logged, not
// returned: the active record is stored, and its copy is written again
// at the next change or switch.
func (s *Store) mirrorLocked(ctx context.Context, r *Record, login bool) {
	if s.saved == nil {
		return
	}
	err := s.inTx(ctx, func(tx *SavedTx) error {
		id, err := tx.Mirror(r)
		if err == nil && login {
			tx.Touch(id)
		}
		return err
	})
	switch {
	case errors.Is(err, ErrUnidentified):
		s.logger.Info("the stored credentials do not say whose they are; not saved as an account")
	case err != nil:
		s.logger.Warn("could not update the saved copy of the active account; it is written again at the next change", "err", err)
	}
}

// forgetLocked removes the saved copy of prev (a logout removed it from
// the active store), or of the account the index names active when prev
// cannot be read; with keep, only the index's active name is cleared (a
// policy logout: the copy stays saved). The caller holds the locks.
func (s *Store) forgetLocked(ctx context.Context, prev *Record, keep bool) {
	if s.saved == nil {
		return
	}
	err := s.inTx(ctx, func(tx *SavedTx) error {
		id := ""
		if prev != nil {
			id = tx.IDOf(prev)
			if tx.idx.find(id) < 0 {
				id = ""
			}
		}
		if id == "" {
			id = tx.ActiveID()
		}
		if keep || id == "" {
			tx.SetActiveID("")
			return nil
		}
		return tx.Remove(id)
	})
	if err != nil {
		s.logger.Warn("could not update the saved accounts after a logout", "err", err)
	}
}

// putSavedLocked saves r to its account's copy only, leaving the active
// record alone (Update found another account active). The caller holds
// the locks.
func (s *Store) putSavedLocked(ctx context.Context, r *Record) error {
	return s.inTx(ctx, func(tx *SavedTx) error {
		_, err := tx.Put(r)
		return err
	})
}
