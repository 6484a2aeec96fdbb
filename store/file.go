// file.go: the auth.json backend: atomic replace, 0600, never a torn file.

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
	"time"
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

// load reads auth.json; (nil, nil) when it does not exist. It never
// writes: a corrupt file is reported, left as it is.
func (f *fileBackend) load(context.Context) (*Record, error) {
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
	return writeAtomic(f.path, data)
}

// writeAtomic writes data to path through a temp file in the same folder.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".auth-*")
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

// moveAside renames a corrupt auth.json to auth.json.corrupt-<timestamp>
// so a new login never destroys what was there. Returns the new name.
func (f *fileBackend) moveAside() (string, error) {
	name := f.path + ".corrupt-" + f.now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(f.path, name); err != nil {
		return "", fmt.Errorf("move corrupt %s aside: %w: %w", f.path, ErrUnavailable, err)
	}
	return name, nil
}
