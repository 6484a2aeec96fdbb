package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// savedBackend is where the saved copies of one mode live, one record per
// session id. The caller holds the saved accounts' locks for writes.
type savedBackend interface {
	// load is the saved copy of id; (nil, nil) when there is none, a
	// *CorruptError when its bytes are not a record.
	load(ctx context.Context, id string) (*Record, error)
	save(ctx context.Context, id string, r *Record) error
	// remove deletes the copy (and its folder); missing is success.
	remove(ctx context.Context, id string) error
	where(id string) string
}

// savedFiles keeps the copies in $CODEX_HOME/account-sessions/<id>/auth.json
// (0600 in 0700 folders, written atomically).
type savedFiles struct {
	dir string // $CODEX_HOME/account-sessions
}

func (f savedFiles) path(id string) string { return filepath.Join(f.dir, id, AuthFileName) }

func (f savedFiles) where(id string) string { return f.path(id) }

func (f savedFiles) load(_ context.Context, id string) (*Record, error) {
	data, err := os.ReadFile(f.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", f.path(id), ErrUnavailable, err)
	}
	r, err := ParseRecord(data)
	if err != nil {
		return nil, &CorruptError{Path: f.path(id), Reason: err.Error()}
	}
	return r, nil
}

func (f savedFiles) save(_ context.Context, id string, r *Record) error {
	data, err := r.MarshalPretty()
	if err != nil {
		return err
	}
	if err := f.folder(id); err != nil {
		return err
	}
	return writeAtomic(f.path(id), data)
}

// folder makes $CODEX_HOME/account-sessions/<id> (0700 both; a wider
// mode found on either is narrowed).
func (f savedFiles) folder(id string) error {
	for _, d := range []string{f.dir, filepath.Join(f.dir, id)} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w: %w", d, ErrUnavailable, err)
		}
		if runtime.GOOS == "windows" {
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(d, 0o700); err != nil {
				return fmt.Errorf("narrow %s to 0700: %w: %w", d, ErrUnavailable, err)
			}
		}
	}
	return nil
}

func (f savedFiles) remove(_ context.Context, id string) error {
	p := f.path(id)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w: %w", p, ErrUnavailable, err)
	}
	// The folder goes too when nothing else is in it (a moved-aside
	// copy, another program's file: kept).
	dir := filepath.Dir(p)
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w: %w", dir, ErrUnavailable, err)
		}
	}
	syncDir(f.dir)
	return nil
}

// ids are the folders of saved accounts (names that are safe ids).
func (f savedFiles) ids() ([]string, error) {
	entries, err := os.ReadDir(f.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w: %w", f.dir, ErrUnavailable, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidSessionID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// savedKeyring keeps the copies in the keyring, one entry each: service
// codex-auth, account "<id>|<the 16 hex of CODEX_HOME's hash>". The
// folder $CODEX_HOME/account-sessions/<id> is kept (empty) so that the
// index can be rebuilt from it: a keyring cannot be listed.
//
// In keyring mode a save must reach the keyring; in auto mode one that
// fails falls back to the folder's auth.json, which is then read first
// (a keyring save removes it). A copy in the folder is read in keyring
// mode too when the keyring has none (one saved before the mode changed).
type savedKeyring struct {
	kr    *keyringBackend
	home  Home
	files savedFiles
	auto  bool
}

func (k savedKeyring) account(id string) string {
	return id + "|" + strings.TrimPrefix(k.home.KeyringAccount(), "cli|")
}

func (k savedKeyring) where(id string) string {
	return "keyring: " + SavedKeyringService + "/" + k.account(id)
}

func (k savedKeyring) load(ctx context.Context, id string) (*Record, error) {
	if k.auto {
		if r, err := k.files.load(ctx, id); r != nil || err != nil {
			return r, err
		}
	}
	val, err := k.kr.get(ctx, SavedKeyringService, k.account(id))
	if errors.Is(err, ErrKeyringNotFound) {
		if k.auto {
			return nil, nil
		}
		return k.files.load(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	r, err := ParseRecord([]byte(val))
	if err != nil {
		return nil, &CorruptError{Path: k.where(id), Reason: err.Error()}
	}
	return r, nil
}

func (k savedKeyring) save(ctx context.Context, id string, r *Record) error {
	if err := k.files.folder(id); err != nil {
		return err
	}
	err := k.kr.set(ctx, SavedKeyringService, k.account(id), r)
	if err == nil {
		// One copy only: a file left from a fallback would be read first.
		if rerr := os.Remove(k.files.path(id)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("remove the older %s: %w: %w", k.files.path(id), ErrUnavailable, rerr)
		}
		return nil
	}
	if !k.auto {
		return err
	}
	return k.files.save(ctx, id, r)
}

func (k savedKeyring) remove(ctx context.Context, id string) error {
	if _, err := k.kr.del(ctx, SavedKeyringService, k.account(id)); err != nil {
		return err
	}
	return k.files.remove(ctx, id)
}

// savedMemory keeps the copies in this process (ephemeral mode).
type savedMemory struct {
	mu   sync.Mutex
	recs map[string]*Record
}

func (m *savedMemory) where(id string) string { return "memory: " + id }

func (m *savedMemory) load(_ context.Context, id string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recs[id].Clone(), nil
}

func (m *savedMemory) save(_ context.Context, id string, r *Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]*Record{}
	}
	m.recs[id] = r.Clone()
	return nil
}

func (m *savedMemory) remove(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, id)
	return nil
}

func (m *savedMemory) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.recs {
		ids = append(ids, id)
	}
	return ids
}
