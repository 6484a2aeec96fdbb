package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// Lock file names, as Codex 0.171.0 uses them in CODEX_HOME.
const (
	// authLockName is held (blocking LOCK_EX) across a whole
	// read-modify-write. Ours hold it across a refresh's network call too;
	// the Codex CLI 0.171 takes it only around a refresh's final re-read
	// and write, after its call to the issuer (see session's refresh.go).
	authLockName = "auth.lock"
	// writeLockName is held (LOCK_EX|LOCK_NB, retried) around the write.
	writeLockName = "auth.json.lock"
)

// DefaultLockTimeout bounds waiting for auth.lock. Another codex-auth
// process holds it across a whole refresh, network call included, so the
// wait allows for one slow refresh (an HTTP timeout is 30 s).
const DefaultLockTimeout = 30 * time.Second

const (
	// lockPoll is how often a taken lock is retried.
	lockPoll = 5 * time.Millisecond
	// writeLockTimeout bounds the retries for auth.json.lock: its holder
	// only writes a small file.
	writeLockTimeout = 5 * time.Second
)

// ErrLockTimeout: another process held auth.lock too long. It wraps
// ErrUnavailable.
var ErrLockTimeout = fmt.Errorf("timed out waiting for auth.lock: %w", ErrUnavailable)

// acquire takes an exclusive flock on dir/name, waiting at most timeout
// (and never past ctx). The caller must call the returned release.
func acquire(ctx context.Context, dir, name string, timeout time.Duration) (release func(), err error) {
	return acquireLogged(ctx, dir, name, timeout, nil)
}

// acquireLogged is acquire that tells logger (when set) that it waits:
// the lock was not free when first tried.
func acquireLogged(ctx context.Context, dir, name string, timeout time.Duration, logger *slog.Logger) (release func(), err error) {
	path := filepath.Join(dir, name)
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if ok && err == nil {
		return func() { _ = fl.Unlock() }, nil
	}
	if err == nil && logger != nil {
		logger.Debug("waiting for a lock another process holds", "path", path)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, err = fl.TryLockContext(ctx, lockPoll)
	switch {
	case ok && err == nil:
	case err == nil || errors.Is(err, context.DeadlineExceeded):
		_ = fl.Close()
		return nil, fmt.Errorf("%s: %w", path, ErrLockTimeout)
	case errors.Is(err, context.Canceled):
		_ = fl.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	default:
		_ = fl.Close()
		return nil, fmt.Errorf("lock %s: %w: %w", path, ErrUnavailable, err)
	}
	return func() { _ = fl.Unlock() }, nil
}
