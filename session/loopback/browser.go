package loopback

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
)

// DetectHeadless reports whether a browser opened here could not be seen
// by the user: over SSH (SSH_CONNECTION or SSH_TTY set) on any system, or
// on Linux and the BSDs without a display (neither DISPLAY nor
// WAYLAND_DISPLAY). goos is runtime.GOOS in production.
func DetectHeadless(getenv func(string) string, goos string) bool {
	if getenv("SSH_CONNECTION") != "" || getenv("SSH_TTY") != "" {
		return true
	}
	switch goos {
	case "windows", "darwin", "ios", "android":
		return false
	}
	return getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == ""
}

// ErrNoBrowserOpener: no command to open a browser is known on this system.
var ErrNoBrowserOpener = errors.New("no command to open a browser on this system")

// OpenBrowser opens url in the user's browser with the system's opener
// (xdg-open, open, rundll32), for the CLI. The URL is passed as one
// argument, never through a shell. It reports whether the opener ran
// successfully; that does not prove a window appeared.
func OpenBrowser(ctx context.Context, url string) (bool, error) {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name, args = "open", []string{url}
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		name, args = "xdg-open", []string{url}
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return false, ErrNoBrowserOpener
	}
	if err := exec.CommandContext(ctx, path, args...).Run(); err != nil {
		return false, err
	}
	return true, nil
}
