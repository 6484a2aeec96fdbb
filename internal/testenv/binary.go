// Building the codex-auth binary once per test process, for smoke tests of the real binary.

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BinaryVersion is the version stamped into the binary BuildBinary builds.
const BinaryVersion = "0.0.0-test"

// built caches BuildBinary's result for the life of the test process: the
// one piece of package state, because a build per test would be slow.
var built struct {
	once sync.Once
	path string
	err  error
}

// BuildBinary builds ./cmd/codex-auth (stamped with BinaryVersion) once per
// test process and returns its path; later calls return the same binary. A
// build failure fails the test. Each test package that calls it pays for a
// link, so keep such tests few (smoke tests of the real binary). The binary
// lives in a directory under os.TempDir that outlives the test (make test
// runs under scripts/with-keyring.sh, whose TMPDIR is removed afterwards).
func BuildBinary(t testing.TB) string {
	t.Helper()
	root := ModuleRoot(t)
	built.once.Do(func() {
		built.path, built.err = build(root)
	})
	if built.err != nil {
		t.Fatalf("testenv: %v", built.err)
	}
	return built.path
}

func build(root string) (string, error) {
	dir, err := os.MkdirTemp("", "codex-auth-bin-")
	if err != nil {
		return "", fmt.Errorf("building codex-auth: %w", err)
	}
	name := "codex-auth"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	out := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version="+BinaryVersion, "-o", out, "./cmd/codex-auth")
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build ./cmd/codex-auth: %w\n%s", err, output)
	}
	return out, nil
}
