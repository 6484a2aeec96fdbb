package testenv

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NobodyID is the uid and gid children run as when the tests run as root.
const NobodyID = 65534

// Unprivileged is how to run a child as a user file permissions apply to:
// as root (CI), the command prefix that drops to nobody (util-linux's
// setpriv) and its uid; otherwise no prefix and this user's uid. A missing
// setpriv is a missing real part.
func Unprivileged(t testing.TB) (prefix []string, uid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, os.Geteuid()
	}
	p, err := exec.LookPath("setpriv")
	if err != nil {
		Missing(t, "setpriv (to run children as nobody, since the tests run as root)", "install util-linux")
	}
	return []string{p, "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, NobodyID
}

// SharedTempDir is a new folder (0755, removed at the end of the test)
// that every user can reach: under /tmp, since TMPDIR may be a private
// folder (scripts/with-keyring.sh makes one 0700).
func SharedTempDir(t testing.TB) string {
	t.Helper()
	base := os.TempDir()
	if fi, err := os.Stat("/tmp"); err == nil && fi.Mode()&os.ModeSticky != 0 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "codex-auth-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ExecutableBy copies the binary at path into a folder every user can
// enter (test temp folders are 0700), for a child run as another user.
func ExecutableBy(t testing.TB, path string) string {
	t.Helper()
	dir := SharedTempDir(t)
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
