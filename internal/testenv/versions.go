// Pinned tool versions, read from scripts/versions.env (the one place they live).

package testenv

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// VersionsFile is where the pinned versions live, relative to the module root.
const VersionsFile = "scripts/versions.env"

// Pinned returns the value of key (for example "CODEX_VERSION") in
// scripts/versions.env; the test fails if the file or the key is missing.
func Pinned(t testing.TB, key string) string {
	t.Helper()
	path := filepath.Join(ModuleRoot(t), VersionsFile)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer f.Close()
	vars, err := parseEnvFile(f)
	if err != nil {
		t.Fatalf("testenv: %s: %v", path, err)
	}
	v, ok := vars[key]
	if !ok || v == "" {
		t.Fatalf("testenv: %s has no %s", path, key)
	}
	return v
}

// CodexVersion returns the pinned Codex CLI version (CODEX_VERSION).
func CodexVersion(t testing.TB) string {
	t.Helper()
	return Pinned(t, "CODEX_VERSION")
}

// parseEnvFile reads the KEY=VALUE lines of a shell-sourced file: blank
// lines and # comments are skipped, and a value may be wrapped in single or
// double quotes. Anything else is an error naming the line.
func parseEnvFile(r io.Reader) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			return nil, fmt.Errorf("line %d: want KEY=VALUE, got %q", n, line)
		}
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vars, nil
}

func validKey(key string) bool {
	if key == "" || (key[0] >= '0' && key[0] <= '9') {
		return false
	}
	for _, c := range key {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
