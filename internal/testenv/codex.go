// The pinned Codex CLI (npm @openai/codex) and the environment to run it in.

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const codexHowTo = "run scripts/deps.sh or make test"

// codexChecked remembers, per process, the Codex paths whose version was
// already checked, so tests calling Codex many times start node only once.
var codexChecked sync.Map // path -> struct{}

// Codex returns the path of the pinned Codex CLI: $CODEX_BIN if set, else
// <module root>/.cache/npm/node_modules/.bin/codex (where scripts/deps.sh
// installs it). It checks that `codex --version` prints the version pinned
// in scripts/versions.env; a missing or different CLI is reported through
// Missing.
func Codex(t testing.TB) string {
	t.Helper()
	want := "codex-cli " + CodexVersion(t)
	path := os.Getenv("CODEX_BIN")
	if path == "" {
		name := "codex"
		if runtime.GOOS == "windows" {
			name = "codex.cmd"
		}
		path = filepath.Join(ModuleRoot(t), ".cache", "npm", "node_modules", ".bin", name)
	}
	if _, ok := codexChecked.Load(path); ok {
		return path
	}
	if _, err := os.Stat(path); err != nil {
		Missing(t, fmt.Sprintf("%s not found at %s", want, path), codexHowTo)
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = CodexEnv(home)
	out, err := cmd.Output()
	if err != nil {
		Missing(t, fmt.Sprintf("%s --version failed: %v", path, err), codexHowTo)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		Missing(t, fmt.Sprintf("%s is %q, want %q", path, got, want), codexHowTo)
	}
	codexChecked.Store(path, struct{}{})
	return path
}

// CodexEnv returns a minimal environment for running the Codex CLI in a
// test, with codexHome (an existing directory) as both CODEX_HOME and HOME,
// so nothing outside it is read or written. PATH (node runs the CLI) and
// the variables needed to reach a keyring (D-Bus session, runtime dir) or
// to run at all on Windows are passed through when set; OPENAI_API_KEY and
// everything else are not. Append what a test needs, for example
// CODEX_REFRESH_TOKEN_URL_OVERRIDE. With CODEX_HOME under a temporary
// folder, Codex 0.171.0 prints a harmless "WARNING: proceeding, even though
// we could not create PATH aliases" line on stderr.
func CodexEnv(codexHome string) []string {
	env := []string{
		"HOME=" + codexHome,
		"CODEX_HOME=" + codexHome,
	}
	if runtime.GOOS == "windows" {
		env = append(env, "USERPROFILE="+codexHome)
	}
	for _, key := range []string{
		"PATH", "TMPDIR", "LANG",
		"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR",
		"SYSTEMROOT", "PATHEXT", "COMSPEC", "TEMP", "TMP",
	} {
		if v, ok := os.LookupEnv(key); ok {
			env = append(env, key+"="+v)
		}
	}
	return env
}
