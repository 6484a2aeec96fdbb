// store.go: the Store, its modes, and the operations every caller uses.

package store

import (
	"errors"
	"fmt"
	"log/slog"
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
	Logger      *slog.Logger
	// Now is the clock for corrupt-file names; default time.Now.
	Now func() time.Time
}
