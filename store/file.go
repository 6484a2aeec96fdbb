package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// AuthFileName is the file Codex keeps the record in.
const AuthFileName = "auth.json"

// fileBackend keeps the record in $CODEX_HOME/auth.json.
type fileBackend struct {
	home   Home
	path   string
	logger *slog.Logger
	now    func() time.Time
}

func newFileBackend(home Home, logger *slog.Logger, now func() time.Time) *fileBackend {
	return &fileBackend{home: home, path: filepath.Join(home.Dir, AuthFileName), logger: logger, now: now}
}

// notRegular refuses an auth.json that is not a regular file: a
// directory, or a symbolic link (to a file elsewhere: codex-auth neither
// reads a record from another place nor writes one there). nil when it is
// a regular file or absent.
func notRegular(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		return nil // absent, or the read reports it
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: %w: codex-auth reads and writes only a regular file there (replace the link with the file)", path, ErrUnavailable)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): %w: move it away to sign in", path, fi.Mode().Type(), ErrUnavailable)
	}
	return nil
}

// load reads auth.json; (nil, nil) when it does not exist. It never
// writes: a corrupt file is reported, left as it is.
func (f *fileBackend) load(context.Context) (*Record, error) {
	if err := notRegular(f.path); err != nil {
		return nil, err
	}
	f.sweepIfFree()
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", f.path, ErrUnavailable, err)
	}
	r, err := ParseRecord(data)
	if err != nil {
		return nil, &CorruptError{Path: f.path, Reason: err.Error()}
	}
	return r, nil
}

// save replaces auth.json atomically under auth.json.lock: a temp file
// .auth-XXXXXX (O_EXCL, 0600) in the same folder, fsync, rename, fsync the
// folder, as Codex does. A wider mode on the old file is reported; the
// new file is 0600 whatever it was.
func (f *fileBackend) save(ctx context.Context, r *Record) error {
	data, err := r.MarshalPretty()
	if err != nil {
		return err
	}
	if err := f.home.ensure(); err != nil {
		return err
	}
	if fi, err := os.Stat(f.path); err == nil && fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		f.logger.Warn("auth.json was readable by others; narrowing it to 0600", "path", f.path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	release, err := acquire(ctx, f.home.Dir, writeLockName, writeLockTimeout)
	if err != nil {
		return err
	}
	defer release()
	sweepTemp(f.path, f.logger)
	if err := notRegular(f.path); err != nil {
		return err
	}
	return writeAtomic(f.path, data)
}

// tempPattern names the temp files writeAtomic writes for path: beside
// it, named after it, so that a sweep under one file's lock touches only
// that file's (auth.json's: .auth.json.tmp-*).
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// sweepTemp removes the temp files of writes of path whose writer died
// between creating and renaming one (a SIGKILL): they hold a secret. The
// caller holds path's write lock, under which every write of it runs, so
// each one found is stale.
func sweepTemp(path string, logger *slog.Logger) {
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	for _, l := range left {
		if err := os.Remove(l); err == nil && logger != nil {
			logger.Info("removed the temp file of a write that never finished", "path", l)
		}
	}
}

// sweepIfFree sweeps the temp files left in the home when there are any
// and no write is under way (the write lock is free: tried, never waited
// for), so that a process starting after a kill starts clean.
// The saved accounts' index beside it too (it holds no secret, but is
// clutter): a kill mid-switch leaves one.
func (f *fileBackend) sweepIfFree() {
	sweepIfFree(f.path, writeLockName, f.logger)
	sweepIfFree(filepath.Join(f.home.Dir, SavedIndexName), savedLockName, f.logger)
}

// sweepIfFree sweeps path's temp files when there are any and lockName
// (in path's folder, held across every write of path) is free: tried,
// never waited for.
func sweepIfFree(path, lockName string, logger *slog.Logger) {
	dir := filepath.Dir(path)
	if left, _ := filepath.Glob(filepath.Join(dir, tempPattern(path))); len(left) == 0 {
		return
	}
	fl := flock.New(filepath.Join(dir, lockName), flock.SetPermissions(0o600))
	if ok, err := fl.TryLock(); err != nil || !ok {
		_ = fl.Close()
		return
	}
	defer fl.Unlock()
	sweepTemp(path, logger)
}

// writeAtomic writes data to path through a temp file in the same folder.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("write %s: %w: %w", path, ErrUnavailable, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w: %w", path, ErrUnavailable, err)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable (POSIX fsync on the folder); Windows
// cannot open a folder for it and needs no such step.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// remove unlinks auth.json under auth.json.lock; missing is success.
func (f *fileBackend) remove(ctx context.Context) (bool, error) {
	if _, err := os.Lstat(f.path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	release, err := acquire(ctx, f.home.Dir, writeLockName, writeLockTimeout)
	if err != nil {
		return false, err
	}
	defer release()
	sweepTemp(f.path, f.logger)
	if fi, err := os.Lstat(f.path); err == nil && fi.IsDir() {
		return false, fmt.Errorf("remove %s: %w: it is a directory", f.path, ErrUnavailable)
	}
	err = os.Remove(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove %s: %w: %w", f.path, ErrUnavailable, err)
	}
	syncDir(f.home.Dir)
	return true, nil
}

// corruptStamp names the moved-aside copies: auth.json.corrupt-<stamp>;
// fixed width, so that names sort by time.
const corruptStamp = "20060102T150405.000000000Z"

// keepCorrupt is how many moved-aside copies are kept (the newest).
const keepCorrupt = 3

// moveAside renames a corrupt auth.json to auth.json.corrupt-<timestamp>
// so a new login never destroys what was there. The copy may hold
// secrets: it is made 0600 first, whatever the original's mode, and only
// the newest keepCorrupt copies are kept. Returns the new name.
func (f *fileBackend) moveAside() (string, error) {
	name := f.path + ".corrupt-" + f.now().UTC().Format(corruptStamp)
	if err := os.Chmod(f.path, 0o600); err != nil && runtime.GOOS != "windows" {
		return "", fmt.Errorf("move corrupt %s aside: %w: %w", f.path, ErrUnavailable, err)
	}
	if err := os.Rename(f.path, name); err != nil {
		return "", fmt.Errorf("move corrupt %s aside: %w: %w", f.path, ErrUnavailable, err)
	}
	f.pruneCorrupt()
	return name, nil
}

// pruneCorrupt removes moved-aside copies but the newest keepCorrupt,
// best effort. Only names moveAside makes are touched.
func (f *fileBackend) pruneCorrupt() {
	entries, err := os.ReadDir(filepath.Dir(f.path))
	if err != nil {
		f.logger.Debug("listing moved-aside copies failed", "error", err)
		return
	}
	prefix := filepath.Base(f.path) + ".corrupt-"
	var copies []string
	for _, e := range entries {
		n := e.Name()
		stamp, ok := strings.CutPrefix(n, prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if _, err := time.Parse(corruptStamp, stamp); err != nil {
			continue
		}
		copies = append(copies, n)
	}
	slices.Sort(copies)
	for len(copies) > keepCorrupt {
		p := filepath.Join(filepath.Dir(f.path), copies[0])
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.logger.Warn("could not remove an old moved-aside copy", "path", p, "error", err)
		}
		copies = copies[1:]
	}
}
