package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Home is a resolved CODEX_HOME.
type Home struct {
	// Dir is the absolute, canonical path.
	Dir string
	// Default is true when CODEX_HOME was unset (~/.codex, created 0700 on
	// first save).
	Default bool
}

// HomeError: CODEX_HOME is set but unusable. Its message is the one Codex
// prints for the same problem.
type HomeError struct {
	// Value is CODEX_HOME as set.
	Value string
	// Reason is "does not exist", "is not a directory", or an I/O error.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *HomeError) Error() string {
	return fmt.Sprintf("CODEX_HOME points to %q, but that path %s", e.Value, e.Reason)
}

// Unwrap returns the underlying error.
func (e *HomeError) Unwrap() error { return e.Err }

// ResolveHome resolves CODEX_HOME exactly as Codex does: when set (and not
// empty) it must exist and be a directory and is canonicalized; else
// ~/.codex (not created here).
func ResolveHome(getenv func(string) string) (Home, error) {
	if v := getenv("CODEX_HOME"); v != "" {
		dir, err := canonical(v)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return Home{}, &HomeError{Value: v, Reason: "does not exist", Err: err}
			}
			return Home{}, &HomeError{Value: v, Reason: "cannot be resolved: " + err.Error(), Err: err}
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return Home{}, &HomeError{Value: v, Reason: "cannot be read: " + err.Error(), Err: err}
		}
		if !fi.IsDir() {
			return Home{}, &HomeError{Value: v, Reason: "is not a directory"}
		}
		return Home{Dir: dir}, nil
	}
	// Codex (Rust's dirs::home_dir) reads HOME on Unix and the user's
	// profile folder on Windows, where HOME (Cygwin, MSYS) is ignored.
	home := getenv("HOME")
	if runtime.GOOS == "windows" {
		home = ""
	}
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return Home{}, fmt.Errorf("cannot find the home directory for ~/.codex: %w", err)
		}
		home = h
	}
	dir := filepath.Join(home, ".codex")
	if c, err := canonical(dir); err == nil {
		dir = c
	} else if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return Home{Dir: dir, Default: true}, nil
}

// canonical is Rust's fs::canonicalize: absolute, symlinks resolved; the
// path must exist.
func canonical(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// KeyringAccount is the keyring account Codex uses for this home: "cli|"
// and the first 16 hex digits of the SHA-256 of the canonical path (the
// path as given when it cannot be canonicalized, as Codex does).
func (h Home) KeyringAccount() string {
	p := h.Dir
	if c, err := canonical(p); err == nil {
		p = c
	}
	sum := sha256.Sum256([]byte(p))
	return "cli|" + hex.EncodeToString(sum[:])[:16]
}

// ensure creates the default home (0700) when it is missing; a set
// CODEX_HOME exists by construction.
func (h Home) ensure() error {
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w: %w", h.Dir, ErrUnavailable, err)
	}
	return nil
}
