// api_stub.go: the Store's API, to be implemented (delete this file's
// stubs as the real implementation lands in file.go, keyring.go, lock.go).

package store

import (
	"context"
	"errors"
)

var errTODO = errors.New("store: not implemented yet")

// Home is a resolved CODEX_HOME.
type Home struct {
	// Dir is the absolute, canonical path.
	Dir string
	// Default is true when CODEX_HOME was unset (~/.codex, created 0700 on
	// first save).
	Default bool
}

// ResolveHome resolves CODEX_HOME exactly as Codex does: when set it must
// exist and be a directory; else ~/.codex (not created here).
func ResolveHome(getenv func(string) string) (Home, error) { return Home{}, errTODO }

// Store is the auth record of one CODEX_HOME in one mode. Safe for
// concurrent use by many goroutines; cross-process safety comes from the
// same flock locks the Codex CLI takes.
type Store struct{}

// Open validates opts and returns a Store. It does no I/O that can block.
func Open(home Home, opts Options) (*Store, error) { return nil, errTODO }

// Home is the home this store serves.
func (s *Store) Home() Home { return Home{} }

// AuthFile is $CODEX_HOME/auth.json (watched by session even in keyring
// mode, since auto may fall back to it).
func (s *Store) AuthFile() string { return "" }

// Location says where the record is (or would be saved), and any fallback.
func (s *Store) Location() Location { return Location{} }

// Load reads the current record without taking auth.lock and without ever
// rewriting anything. (nil, nil) when nothing is stored; *CorruptError when
// the stored bytes do not parse.
func (s *Store) Load(ctx context.Context) (*Record, error) { return nil, errTODO }

// Update is a read-modify-write under auth.lock (waiting at most until ctx
// ends or LockTimeout). fn gets the current record (nil when none) and
// returns the next one; returning (nil, nil) changes nothing. fn may do a
// bounded network call (refresh) while the lock is held, as Codex does.
// A corrupt stored record is returned as *CorruptError without calling fn.
// Returns the record stored afterwards.
func (s *Store) Update(ctx context.Context, fn func(cur *Record) (*Record, error)) (*Record, error) {
	return nil, errTODO
}

// Replace stores r under auth.lock whatever is there (a new login). A
// corrupt auth.json is first moved aside to auth.json.corrupt-<timestamp>.
func (s *Store) Replace(ctx context.Context, r *Record) error { return errTODO }

// Delete removes the record from every backend (file and keyring) under
// auth.lock. Deleting what is not there is success; existed reports
// whether anything was removed.
func (s *Store) Delete(ctx context.Context) (existed bool, err error) { return false, errTODO }
