package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"
)

// Mode is cli_auth_credentials_store: where the record lives.
type Mode string

// The modes Codex knows.
const (
	ModeFile      Mode = "file"
	ModeKeyring   Mode = "keyring"
	ModeAuto      Mode = "auto"
	ModeEphemeral Mode = "ephemeral"
)

// ParseMode validates a mode name; "" means file.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return ModeFile, nil
	case ModeFile, ModeKeyring, ModeAuto, ModeEphemeral:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown credentials store %q (want file, keyring, auto or ephemeral)", s)
}

// Errors callers match with errors.Is / errors.As.
var (
	// ErrUnavailable: the backend cannot be used now (keyring locked or
	// absent, lock timeout, I/O error). Wrapped with the reason.
	ErrUnavailable = errors.New("credential store unavailable")
	// ErrTooLarge: the record exceeds the keyring's size limit.
	ErrTooLarge = errors.New("record too large for the keyring")
)

// CorruptError: the stored bytes are not an auth record. Path names the
// file (or keyring entry); Reason says what is wrong, without secrets.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s is not a valid auth record: %s", e.Path, e.Reason)
}

// Location says where the credentials are, for status output.
type Location struct {
	Mode Mode `json:"mode"`
	// Where: the auth.json path, "keyring: Codex Auth/cli|…", or "memory".
	Where string `json:"location"`
	// Fallback is set when auto mode fell back to the file: why.
	Fallback string `json:"fallback,omitempty"`
}

// Options configure Open.
type Options struct {
	Mode Mode
	// KeyringTimeout bounds every keyring call (default 3s).
	KeyringTimeout time.Duration
	// KeyringLimit is the largest value the keyring accepts, in bytes; 0
	// means the platform's (Windows 2560, macOS 3000, else none).
	KeyringLimit int
	// LockTimeout bounds waiting for auth.lock (default 10s).
	LockTimeout time.Duration
	// Logger receives warnings (fallbacks, narrowed modes); never a
	// secret. Default: discard.
	Logger *slog.Logger
	// Now is the clock for corrupt-file names; default time.Now.
	Now func() time.Time
	// Keyring is the OS keyring; default SystemKeyring. Every call goes
	// through KeyringTimeout whatever the implementation.
	Keyring Keyring
	// SecretAuthStorage is Codex's feature flag secret_auth_storage: in
	// keyring and auto modes the record then lives in the encrypted
	// $CODEX_HOME/secrets/codex_auth.age (its passphrase in the keyring)
	// instead of the "Codex Auth" keyring entry, which is not read.
	SecretAuthStorage bool
	// SavedAccounts keeps every account that becomes active (saved.go):
	// the Store's writes then mirror the active record into its saved
	// copy, and Accounts and SavedAccounts work.
	SavedAccounts bool
}

// recordBackend is where keyring and auto modes keep the record: the
// keyring entry, or the encrypted secrets file.
type recordBackend interface {
	load(ctx context.Context) (*Record, error)
	save(ctx context.Context, r *Record) error
	remove(ctx context.Context) (bool, error)
	where() string
}

// Store is the auth record of one CODEX_HOME in one mode. Safe for
// concurrent use by many goroutines; cross-process safety comes from the
// same flock locks the Codex CLI takes.
type Store struct {
	home   Home
	mode   Mode
	opts   Options
	logger *slog.Logger
	file   *fileBackend
	kr     recordBackend
	// saved is the saved accounts (nil without Options.SavedAccounts).
	saved *savedStore
	// sem serializes this process's writers before they queue on the
	// flock, so goroutines wait on a channel rather than polling.
	sem chan struct{}

	mu  sync.Mutex // guards loc, mem and krStale
	loc Location
	mem *Record // ephemeral mode's record
	// krStale (auto mode): a save fell back to auth.json and the keyring
	// entry could not be removed, so a keyring write abandoned at its
	// timeout may still land there, older than the file. Until the
	// keyring is written or cleaned again, Load prefers an existing
	// auth.json to the keyring entry.
	krStale bool
}

// Open validates opts and returns a Store. It does no I/O that can block.
func Open(home Home, opts Options) (*Store, error) {
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	if home.Dir == "" || !filepath.IsAbs(home.Dir) {
		return nil, fmt.Errorf("store: home %q is not an absolute path", home.Dir)
	}
	if opts.KeyringTimeout < 0 || opts.LockTimeout < 0 || opts.KeyringLimit < 0 {
		return nil, errors.New("store: negative timeout or limit")
	}
	if opts.KeyringTimeout == 0 {
		opts.KeyringTimeout = DefaultKeyringTimeout
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.KeyringLimit == 0 {
		opts.KeyringLimit = platformKeyringLimit()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Keyring == nil {
		opts.Keyring = SystemKeyring{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kr := newKeyringBackend(opts.Keyring, opts.KeyringTimeout, opts.KeyringLimit, home)
	s := &Store{
		home:   home,
		mode:   mode,
		opts:   opts,
		logger: logger,
		file:   newFileBackend(home, logger, opts.Now),
		kr:     kr,
		sem:    make(chan struct{}, 1),
	}
	if opts.SecretAuthStorage && (mode == ModeKeyring || mode == ModeAuto) {
		s.kr = newSecretsBackend(home, kr, logger)
	}
	if opts.SavedAccounts {
		s.saved = newSavedStore(home, mode, kr, logger, opts.Now)
	}
	s.loc = s.primary()
	return s, nil
}

// primary is where the mode keeps the record when nothing went wrong.
func (s *Store) primary() Location {
	switch s.mode {
	case ModeKeyring, ModeAuto:
		return Location{Mode: s.mode, Where: s.kr.where()}
	case ModeEphemeral:
		return Location{Mode: s.mode, Where: "memory"}
	}
	return Location{Mode: s.mode, Where: s.file.path}
}

// Home is the home this store serves.
func (s *Store) Home() Home { return s.home }

// Mode is the store's mode.
func (s *Store) Mode() Mode { return s.mode }

// AuthFile is $CODEX_HOME/auth.json (watched by session even in keyring
// mode, since auto may fall back to it).
func (s *Store) AuthFile() string { return s.file.path }

// Location says where the record is (or would be saved), and any fallback,
// as of the last operation.
func (s *Store) Location() Location {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loc
}

func (s *Store) setFallback(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if reason == "" {
		s.loc = s.primary()
		return
	}
	s.loc = Location{Mode: s.mode, Where: s.file.path, Fallback: reason}
}

func (s *Store) keyringStale() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.krStale
}

func (s *Store) setKeyringStale(v bool) {
	s.mu.Lock()
	s.krStale = v
	s.mu.Unlock()
}

// Load reads the current record without taking auth.lock and without ever
// rewriting anything. (nil, nil) when nothing is stored; *CorruptError when
// the stored bytes do not parse.
func (s *Store) Load(ctx context.Context) (*Record, error) {
	switch s.mode {
	case ModeEphemeral:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.mem.Clone(), nil
	case ModeKeyring:
		return s.kr.load(ctx)
	case ModeAuto:
		r, err := s.kr.load(ctx)
		if err == nil && r != nil {
			if s.keyringStale() {
				if fr, ferr := s.file.load(ctx); fr != nil && ferr == nil {
					s.setFallback("the keyring entry is older than auth.json (a keyring write answered late); auth.json is used")
					return fr, nil
				}
			}
			s.setFallback("")
			return r, nil
		}
		fr, ferr := s.file.load(ctx)
		switch {
		case err != nil && fr == nil && ferr == nil:
			// Nothing in the file either: "nothing stored" would be a
			// guess (the entry may be in the keyring that did not
			// answer), and a watcher would take it for a logout.
			return nil, err
		case err != nil:
			s.logger.Info("keyring unavailable; reading auth.json", "error", err)
			s.setFallback("keyring unavailable: " + err.Error())
		case fr != nil || ferr != nil:
			s.setFallback("no keyring entry; auth.json is used")
		default:
			s.setFallback("")
		}
		return fr, ferr
	}
	return s.file.load(ctx)
}

// locked runs fn holding this process's writer slot and auth.lock (the
// lock Codex holds across a read-modify-write), waiting at most until ctx
// ends or LockTimeout; with saved accounts, account-sessions.lock first
// (always in that order). create says whether a missing default home may
// be created (false for Delete: nothing to remove there).
func (s *Store) locked(ctx context.Context, create bool, fn func() error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the store: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	if s.mode == ModeEphemeral {
		return fn()
	}
	if s.home.Default {
		if !create {
			if _, err := filepath.EvalSymlinks(s.home.Dir); err != nil {
				return fn()
			}
		} else if err := s.home.ensure(); err != nil {
			return err
		}
	}
	if s.saved != nil {
		release, err := acquireLogged(ctx, s.home.Dir, savedLockName, s.opts.LockTimeout, s.logger)
		if err != nil {
			return err
		}
		defer release()
	}
	release, err := acquireLogged(ctx, s.home.Dir, authLockName, s.opts.LockTimeout, s.logger)
	if err != nil {
		return err
	}
	defer release()
	return fn()
}

// save stores r in the mode's backend (the caller holds the locks).
func (s *Store) save(ctx context.Context, r *Record) error {
	switch s.mode {
	case ModeEphemeral:
		s.mu.Lock()
		s.mem = r.Clone()
		s.mu.Unlock()
		return nil
	case ModeFile:
		return s.file.save(ctx, r)
	}
	err := s.kr.save(ctx, r)
	if err == nil {
		s.setKeyringStale(false)
		s.setFallback("")
		// Codex deletes auth.json after a keyring save: one copy only.
		if _, rerr := s.file.remove(ctx); rerr != nil {
			s.logger.Warn("saved to the keyring but could not remove auth.json", "error", rerr)
		}
		return nil
	}
	if s.mode == ModeKeyring {
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		return fmt.Errorf("%w (cli_auth_credentials_store = \"auto\" falls back to auth.json)", err)
	}
	s.logger.Warn("keyring save failed; saving to auth.json instead", "error", err, "path", s.file.path)
	if ferr := s.file.save(ctx, r); ferr != nil {
		return ferr
	}
	// An older keyring entry would win over this file at the next Load
	// (auto reads the keyring first) once the keyring answers again; its
	// refresh token may be spent. Remove it, best effort.
	if _, kerr := s.kr.remove(ctx); kerr != nil {
		s.logger.Debug("could not remove the older keyring entry", "error", kerr)
		s.setKeyringStale(true)
	} else {
		s.setKeyringStale(false)
	}
	s.setFallback("keyring save failed: " + err.Error())
	return nil
}

// Update is a read-modify-write under auth.lock (waiting at most until ctx
// ends or LockTimeout). fn gets the current record (nil when none; a copy
// it may change) and returns the next one; returning (nil, nil) changes
// nothing. fn may do a bounded network call (refresh) while the lock is
// held, as Codex does. A corrupt stored record is returned as
// *CorruptError without calling fn. Returns the record stored afterwards.
// With saved accounts the stored record is mirrored to its saved copy;
// and when, just before the write, the stored record is found to be
// another account's (a writer that ignores auth.lock), the record fn
// returned is saved to its own account's copy instead and Update returns
// it with ErrActiveChanged.
func (s *Store) Update(ctx context.Context, fn func(cur *Record) (*Record, error)) (*Record, error) {
	var out *Record
	err := s.locked(ctx, true, func() error {
		cur, err := s.Load(ctx)
		if err != nil {
			return err
		}
		next, err := fn(cur.Clone())
		if err != nil {
			return err
		}
		if next == nil {
			out = cur
			return nil
		}
		// Saved even if ctx ends now: fn may have redeemed a rotating
		// refresh token, and only this save keeps the new one (the old
		// is spent). The write lock and keyring timeouts bound it.
		wctx := context.WithoutCancel(ctx)
		if s.saved != nil {
			// Whose record is stored now, checked again before writing:
			// a program that writes without auth.lock may have stored
			// another account meanwhile; next then goes to the saved
			// copy of its own account, never over the other one.
			if now, err := s.Load(ctx); err == nil && now.Identity() != cur.Identity() {
				if err := s.putSavedLocked(wctx, next); err != nil {
					return fmt.Errorf("%w (and saving it to its account failed: %w)", ErrActiveChanged, err)
				}
				out = next.Clone()
				return ErrActiveChanged
			}
		}
		if err := s.save(wctx, next); err != nil {
			return err
		}
		s.mirrorLocked(wctx, next, false)
		out = next.Clone()
		return nil
	})
	if errors.Is(err, ErrActiveChanged) {
		return out, err
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Replace stores r under auth.lock whatever is there (a new login). A
// corrupt auth.json is first moved aside to auth.json.corrupt-<timestamp>
// (0600; the newest three are kept).
func (s *Store) Replace(ctx context.Context, r *Record) error {
	if r == nil {
		return errors.New("store: Replace with a nil record")
	}
	return s.locked(ctx, true, func() error {
		if s.mode != ModeEphemeral {
			var ce *CorruptError
			if _, err := s.file.load(ctx); errors.As(err, &ce) {
				name, err := s.file.moveAside()
				if err != nil {
					return err
				}
				s.logger.Warn("moved a corrupt auth.json aside", "path", name, "reason", ce.Reason)
			}
		}
		// A login's tokens are saved even if the caller gives up now:
		// the code was redeemed and cannot be again.
		wctx := context.WithoutCancel(ctx)
		if err := s.save(wctx, r.Clone()); err != nil {
			return err
		}
		s.mirrorLocked(wctx, r, true)
		return nil
	})
}

// Delete removes the record from every backend (file and keyring) under
// auth.lock. Deleting what is not there is success; existed reports
// whether anything was removed. In file mode the keyring is cleaned best
// effort; in keyring mode a keyring failure is an error.
func (s *Store) Delete(ctx context.Context) (existed bool, err error) {
	err = s.locked(ctx, false, func() error {
		var prev *Record
		if s.saved != nil {
			prev, _ = s.Load(ctx)
		}
		existed, err = s.deleteLocked(ctx)
		if err == nil {
			s.forgetLocked(context.WithoutCancel(ctx), prev, false)
		}
		return err
	})
	return existed, err
}

// With saved accounts, Delete and Take also remove the saved copy of the
// record they remove (a logout), and DeleteIf keeps it (a policy logout).

// DeleteIf is Delete of a record still matching: under auth.lock it
// re-reads the stored record and deletes it (from every backend, as
// Delete does) only when match(cur) holds, so that a record written in
// between (another login of ours, or the Codex CLI's, which holds
// auth.lock across its login) is never deleted for what its predecessor
// was. It returns whether it deleted, and otherwise the record stored
// now (nil when none). A stored record that does not parse is not
// matched: its *CorruptError is returned and nothing is deleted.
func (s *Store) DeleteIf(ctx context.Context, match func(cur *Record) bool) (deleted bool, cur *Record, err error) {
	err = s.locked(ctx, false, func() error {
		r, err := s.Load(ctx)
		if err != nil {
			return err
		}
		if r == nil || !match(r.Clone()) {
			cur = r
			return nil
		}
		deleted = true
		if _, err = s.deleteLocked(ctx); err != nil {
			return err
		}
		// The policy logs out the active record; its saved copy stays
		// (it cannot be switched to while the policy forbids it).
		s.forgetLocked(context.WithoutCancel(ctx), r, true)
		return nil
	})
	if err != nil {
		return false, nil, err
	}
	return deleted, cur, nil
}

// Take is Delete that also returns the record it removed, read in the
// same hold of the locks (nil when none, or when the stored bytes do not
// parse: they are removed all the same), so that what a logout revokes
// is what it deleted, never a login stored between a read and a delete.
func (s *Store) Take(ctx context.Context) (prev *Record, existed bool, err error) {
	err = s.locked(ctx, false, func() error {
		r, lerr := s.Load(ctx)
		var ce *CorruptError
		if lerr != nil && !errors.As(lerr, &ce) {
			// Unreadable (keyring locked, I/O): delete all the same, as
			// Delete would; nothing to revoke is known.
			s.logger.Debug("logout could not read the record it removes", "error", lerr)
		}
		prev = r
		existed, err = s.deleteLocked(ctx)
		if err == nil {
			s.forgetLocked(context.WithoutCancel(ctx), r, false)
		}
		return err
	})
	if err != nil {
		return nil, existed, err
	}
	return prev, existed, nil
}

// deleteLocked is Delete's work; the caller holds the locks.
func (s *Store) deleteLocked(ctx context.Context) (existed bool, err error) {
	if s.mode == ModeEphemeral {
		s.mu.Lock()
		existed = s.mem != nil
		s.mem = nil
		s.mu.Unlock()
		return existed, nil
	}
	fileHad, ferr := s.file.remove(ctx)
	krHad, kerr := s.kr.remove(ctx)
	if kerr == nil {
		s.setKeyringStale(false)
	}
	existed = fileHad || krHad
	if ferr != nil {
		return existed, ferr
	}
	if kerr != nil {
		// keyring and auto read the keyring: an entry left there
		// would log the user back in once the keyring answers.
		if s.mode == ModeKeyring || s.mode == ModeAuto {
			return existed, kerr
		}
		s.logger.Debug("keyring not cleaned at logout", "error", kerr)
	}
	s.setFallback("")
	return existed, nil
}
