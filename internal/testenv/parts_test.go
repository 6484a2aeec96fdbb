// Tests against the real parts: the pinned Codex CLI, the keyring, Neovim.

package testenv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zalando/go-keyring"
)

func TestCodexEnv(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-testenv-not-a-key")
	t.Setenv("CODEX_HOME", "/somewhere/else")
	t.Setenv("HOME", "/home/someone")
	home := t.TempDir()
	got := map[string]string{}
	for _, kv := range CodexEnv(home) {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("CodexEnv sets %s twice", k)
		}
		got[k] = v
	}
	// Only these keys are checked; the pass-through ones depend on the machine.
	for k := range got {
		switch k {
		case "HOME", "CODEX_HOME", "PATH", "OPENAI_API_KEY":
		default:
			delete(got, k)
		}
	}
	want := map[string]string{"HOME": home, "CODEX_HOME": home, "PATH": os.Getenv("PATH")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CodexEnv(%s) (-want +got):\n%s", home, diff)
	}
}

func TestCodex(t *testing.T) {
	codex := Codex(t)
	t.Setenv("OPENAI_API_KEY", "sk-testenv-not-a-key")
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, codex, "login", "status")
	cmd.Env = CodexEnv(home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("codex login status in an empty home: %v, want exit status 1; stderr:\n%s", err, &stderr)
	}
	if !strings.Contains(stderr.String(), "Not logged in") {
		t.Errorf("codex login status in an empty home printed %q, want Not logged in", &stderr)
	}
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "auth.json" {
			t.Errorf("codex login status wrote %s", filepath.Join(home, e.Name()))
		}
	}
}

func TestHelperCodex(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "codex" {
		t.Skip("helper process for TestCodexWrongVersion")
	}
	Codex(t)
	t.Log("Codex returned")
}

func TestCodexWrongVersion(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake CLI is a shell script")
	}
	fake := filepath.Join(t.TempDir(), "codex")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho codex-cli 0.0.1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := "codex-cli " + CodexVersion(t)
	tests := []struct {
		env     []string
		verdict string
	}{
		{[]string{"CODEX_BIN=" + fake}, "SKIP"},
		{[]string{"CODEX_BIN=" + fake, "CODEX_AUTH_REAL_PARTS=required"}, "FAIL"},
		{[]string{"CODEX_BIN=" + fake + ".absent", "CI=true"}, "FAIL"},
	}
	for _, tt := range tests {
		verdict, out := runHelper(t, "TestHelperCodex", helperEnv("codex", tt.env...))
		if verdict != tt.verdict {
			t.Errorf("Codex with %v: verdict %s, want %s; output:\n%s", tt.env, verdict, tt.verdict, out)
		}
		if !strings.Contains(out, want) || !strings.Contains(out, codexHowTo) {
			t.Errorf("Codex with %v: output does not name %q and %q:\n%s", tt.env, want, codexHowTo, out)
		}
	}
}

func TestKeyring(t *testing.T) {
	Keyring(t)
	if runtime.GOOS != "linux" {
		return
	}
	secretTool, err := exec.LookPath("secret-tool")
	if err != nil {
		Missing(t, "secret-tool not found", "install libsecret-tools (scripts/deps.sh)")
	}
	// What go-keyring stores, an independent client (libsecret) must find.
	service, user, value := "codex-auth testenv test", "user-"+t.Name(), "value of "+t.Name()
	if err := keyring.Set(service, user, value); err != nil {
		t.Fatalf("keyring.Set after Keyring passed: %v", err)
	}
	t.Cleanup(func() { _ = keyring.Delete(service, user) })
	lookup := func() string {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, secretTool, "lookup", "service", service, "username", user).Output()
		return string(out)
	}
	if got := lookup(); got != value {
		t.Errorf("secret-tool lookup = %q, want %q", got, value)
	}
	if err := keyring.Delete(service, user); err != nil {
		t.Fatalf("keyring.Delete: %v", err)
	}
	if got := lookup(); got != "" {
		t.Errorf("secret-tool lookup after delete = %q, want nothing", got)
	}
}

func TestNvim(t *testing.T) {
	nvim := Nvim(t)
	if !filepath.IsAbs(nvim) {
		t.Errorf("Nvim() = %q, want an absolute path", nvim)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nvim, "--headless", "-u", "NONE", "-c", "lua io.stdout:write(vim.fn.has('nvim'))", "-c", "qa!").Output()
	if err != nil {
		t.Fatalf("%s --headless: %v", nvim, err)
	}
	if got := strings.TrimSpace(string(out)); got != "1" {
		t.Errorf("nvim has('nvim') = %q, want 1", got)
	}
}
