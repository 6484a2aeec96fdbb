package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ModulePath is the module whose root ModuleRoot looks for.
const ModulePath = "github.com/codex-auth/codex-auth"

// Required reports whether missing real parts fail tests instead of
// skipping them: true when CI=true or CODEX_AUTH_REAL_PARTS=required.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("CODEX_AUTH_REAL_PARTS") == "required"
}

// Missing ends the test because the real part what is not usable: t.Fatalf
// when Required, else t.Skipf. The message names the part and howToInstall.
func Missing(t testing.TB, what, howToInstall string) {
	t.Helper()
	if Required() {
		t.Fatalf("testenv: %s: %s (real parts are required here: CI=true or CODEX_AUTH_REAL_PARTS=required)", what, howToInstall)
	}
	t.Skipf("testenv: %s: %s (skipping; CI=true or CODEX_AUTH_REAL_PARTS=required would fail instead)", what, howToInstall)
}

// ModuleRoot returns the directory holding this module's go.mod, found by
// walking up from the working directory (a package's directory under go test).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePathOf(data) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the module root: no go.mod for " + ModulePath + " above the working directory")
		}
		dir = parent
	}
}

// modulePathOf returns the path on go.mod's module line, or "".
func modulePathOf(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}
