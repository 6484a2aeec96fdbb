package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/codex-auth/codex-auth/store"
)

// fsEnv runs the real binary as a user file permissions apply to (nobody
// when the tests run as root) on a CODEX_HOME of that user's.
type fsEnv struct {
	prefix []string
	bin    string
	home   string
	uid    int
}

func newFSEnv(t *testing.T) *fsEnv {
	t.Helper()
	prefix, uid := testenv.Unprivileged(t)
	e := &fsEnv{prefix: prefix, uid: uid, bin: testenv.ExecutableBy(t, testenv.BuildBinary(t))}
	parent := testenv.SharedTempDir(t)
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(parent, "home"), 0o700) }) // a read-only home must be removable
	e.home = filepath.Join(parent, "home")
	if err := os.Mkdir(e.home, 0o700); err != nil {
		t.Fatal(err)
	}
	e.chown(t, e.home)
	return e
}

func (e *fsEnv) chown(t *testing.T, path string) {
	t.Helper()
	if err := os.Lchown(path, e.uid, e.uid); err != nil {
		t.Fatal(err)
	}
}

// run runs codex-auth args as the user, with stdin, under extra (a
// command prefix such as prlimit); it returns stderr and the exit code.
func (e *fsEnv) run(t *testing.T, stdin string, extra []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	argv := append(append(append([]string{}, extra...), e.prefix...), e.bin)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"CODEX_HOME=" + e.home, "HOME=" + e.home, "PATH=" + os.Getenv("PATH"),
		"CODEX_AUTH_SYSTEM_CONFIG_DIR=" + filepath.Join(e.home, "no-system")}
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", argv, err)
	}
	return stderr.String(), 0
}

// stored is the record in auth.json as another process reads it.
func (e *fsEnv) stored(t *testing.T) *store.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.home, store.AuthFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.ParseRecord(data)
	if err != nil {
		t.Fatalf("auth.json no longer parses: %v", err)
	}
	return rec
}

// leftovers are the temp files a failed write left in the home.
func (e *fsEnv) leftovers(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(e.home, ".*.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	fsKey1 = "sk-proj-FIRSTKEY-0123456789abcdef"
	fsKey2 = "sk-proj-SECONDKEY-0123456789abcdef-and-a-much-longer-tail-to-grow-the-file"
)

func noSecret(t *testing.T, what, out string) {
	t.Helper()
	for _, k := range []string{fsKey1, fsKey2} {
		if strings.Contains(out, k) {
			t.Errorf("%s: the output carries an API key", what)
		}
	}
}

// TestFilesystemFaults: every way the filesystem can refuse gives a clear
// error, loses no stored credential and leaves no temp file; run as an
// unprivileged user (as root, permissions would not apply).
func TestFilesystemFaults(t *testing.T) {
	t.Run("read-only home", func(t *testing.T) {
		e := newFSEnv(t)
		if out, code := e.run(t, fsKey1+"\n", nil, "login", "--with-api-key"); code != 0 {
			t.Fatalf("first login: exit %d: %s", code, redact(out))
		}
		if err := os.Chmod(e.home, 0o500); err != nil {
			t.Fatal(err)
		}
		out, code := e.run(t, fsKey2+"\n", nil, "login", "--with-api-key")
		if code != 1 || !strings.Contains(out, "Error logging in") || !strings.Contains(out, "permission denied") {
			t.Errorf("login on a read-only home: exit %d, stderr %q; want 1 and why", code, redact(out))
		}
		noSecret(t, "login", out)
		if rec := e.stored(t); rec == nil || rec.APIKey == nil || *rec.APIKey != fsKey1 {
			t.Errorf("the stored key changed or is gone after a refused write")
		}
		out, code = e.run(t, "", nil, "login", "status")
		if code != 0 || !strings.Contains(out, "API key configured") {
			t.Errorf("status on a read-only home: exit %d, %q; want it read", code, redact(out))
		}
		if l := e.leftovers(t); len(l) != 0 {
			t.Errorf("temp files left: %v", l)
		}
	})
	t.Run("full disk", func(t *testing.T) {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			testenv.Missing(t, "prlimit", "install util-linux")
		}
		e := newFSEnv(t)
		if out, code := e.run(t, fsKey1+"\n", nil, "login", "--with-api-key"); code != 0 {
			t.Fatalf("first login: exit %d: %s", code, redact(out))
		}
		size := 0
		if fi, err := os.Stat(filepath.Join(e.home, store.AuthFileName)); err == nil {
			size = int(fi.Size())
		}
		// The writer may not grow any file past the first record's size:
		// the longer key does not fit.
		limit := []string{prlimit, "--fsize=" + strconv.Itoa(size), "--"}
		out, code := e.run(t, fsKey2+"\n", limit, "login", "--with-api-key")
		if code != 1 || !strings.Contains(out, "Error logging in") || !strings.Contains(out, "file too large") {
			t.Errorf("login on a full disk: exit %d, stderr %q; want 1 and why", code, redact(out))
		}
		noSecret(t, "login", out)
		if rec := e.stored(t); rec == nil || rec.APIKey == nil || *rec.APIKey != fsKey1 {
			t.Errorf("the stored key changed or is gone after a failed write")
		}
		if l := e.leftovers(t); len(l) != 0 {
			t.Errorf("temp files left: %v", l)
		}
	})
	t.Run("auth.json is a directory", func(t *testing.T) {
		e := newFSEnv(t)
		dir := filepath.Join(e.home, store.AuthFileName)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		e.chown(t, dir)
		out, code := e.run(t, "", nil, "login", "status")
		if code != 1 || !strings.Contains(out, "not a regular file") {
			t.Errorf("status: exit %d, %q; want 1, saying auth.json is not a regular file", code, out)
		}
		out, code = e.run(t, fsKey1+"\n", nil, "login", "--with-api-key")
		if code != 1 || !strings.Contains(out, "not a regular file") {
			t.Errorf("login: exit %d, %q; want 1, refused", code, redact(out))
		}
		out, code = e.run(t, "", nil, "logout")
		if code != 1 {
			t.Errorf("logout: exit %d, %q; want 1 (a directory is not removed)", code, out)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("the directory was removed or replaced: %v", err)
		}
	})
	t.Run("auth.json is a symlink to elsewhere", func(t *testing.T) {
		e := newFSEnv(t)
		elsewhere := filepath.Join(filepath.Dir(e.home), "elsewhere.json")
		rec := []byte(`{"auth_mode":"apikey","OPENAI_API_KEY":"` + fsKey1 + `","tokens":null,"last_refresh":null}`)
		if err := os.WriteFile(elsewhere, rec, 0o600); err != nil {
			t.Fatal(err)
		}
		e.chown(t, elsewhere)
		link := filepath.Join(e.home, store.AuthFileName)
		if err := os.Symlink(elsewhere, link); err != nil {
			t.Fatal(err)
		}
		e.chown(t, link)
		out, code := e.run(t, "", nil, "login", "status")
		if code != 1 || !strings.Contains(out, "symbolic link") {
			t.Errorf("status: exit %d, %q; want 1, refusing the link", code, redact(out))
		}
		noSecret(t, "status", out)
		out, code = e.run(t, fsKey2+"\n", nil, "login", "--with-api-key")
		if code != 1 || !strings.Contains(out, "symbolic link") {
			t.Errorf("login: exit %d, %q; want 1, refusing the link", code, redact(out))
		}
		if got, err := os.ReadFile(elsewhere); err != nil || !bytes.Equal(got, rec) {
			t.Errorf("the file the link points to changed: %v", err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v", err)
		}
	})
	t.Run("locks left by a dead process", func(t *testing.T) {
		e := newFSEnv(t)
		flock, err := exec.LookPath("flock")
		if err != nil {
			testenv.Missing(t, "flock", "install util-linux")
		}
		// A process takes both locks as the user and is killed holding them.
		for _, name := range []string{"auth.lock", "auth.json.lock"} {
			// -o: the lock is flock's alone (sleep does not inherit it).
			argv := append(append([]string{}, e.prefix...), flock, "-x", "-o", filepath.Join(e.home, name), "sleep", "60")
			holder := exec.Command(argv[0], argv[1:]...)
			holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := holder.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(e.home, name)); err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			_ = holder.Process.Kill() // SIGKILL of flock: its lock dies with it
			_ = holder.Wait()
			_ = syscall.Kill(-holder.Process.Pid, syscall.SIGKILL) // and the sleep it started
		}
		out, code := e.run(t, fsKey1+"\n", nil, "login", "--with-api-key")
		if code != 0 {
			t.Errorf("login after a dead holder: exit %d, %q", code, redact(out))
		}
		if rec := e.stored(t); rec == nil || rec.APIKey == nil || *rec.APIKey != fsKey1 {
			t.Errorf("the login was not stored")
		}
	})
}
