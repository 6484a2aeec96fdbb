package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
	"github.com/google/go-cmp/cmp"
)

// providerHome is a CODEX_HOME whose config.toml defines the provider
// "corp" on srv, with the environment to run codex-auth on it.
func providerHome(t *testing.T, srv *oidctest.Server) (string, map[string]string) {
	t.Helper()
	home := tempHome(t)
	writeConfig(t, filepath.Join(home, "config.toml"), `
[codex_auth.providers.corp]
kind = "oidc"
issuer = "`+srv.URL+`"
client_id = "`+oidctest.PublicClient+`"
`)
	return home, map[string]string{"CODEX_HOME": home, "HOME": home, "SSH_CONNECTION": "10.0.0.1 22 10.0.0.2 22",
		"CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runEnv runs codex-auth in process with env; it returns stdout, the
// stderr lines and the exit code.
func runEnv(t *testing.T, env map[string]string, args ...string) (string, result) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	return stdout.String(), result{Lines: lines(stderr.String()), Code: code}
}

// after returns the first line that is not empty after the first one
// containing marker, trimmed, once it is printed.
func after(t *testing.T, ctx context.Context, w *lineWriter, done <-chan int, marker string) string {
	t.Helper()
	seen := false
	for {
		select {
		case l := <-w.lines:
			if seen && strings.TrimSpace(l) != "" {
				return strings.TrimSpace(l)
			}
			seen = seen || strings.Contains(l, marker)
		case c := <-done:
			t.Fatalf("the command exited %d before printing %q:\n%s", c, marker, w)
		case <-ctx.Done():
			t.Fatalf("%q never printed:\n%s", marker, w)
		}
	}
}

// TestProviderCLI: `codex-auth --provider corp login --device-auth`,
// `login status [--json]`, `token` (CODEX_AUTH_PROVIDER) and `logout`
// against the real provider; Codex's own state is untouched throughout.
func TestProviderCLI(t *testing.T) {
	srv := oidctest.Start(t)
	home, env := providerHome(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	stderr := &lineWriter{lines: make(chan string, 64)}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--provider", "corp", "login", "--device-auth"}, strings.NewReader(""), io.Discard, stderr, func(k string) string { return env[k] })
	}()
	verification := after(t, ctx, stderr, done, "1. Open this link")
	code := after(t, ctx, stderr, done, "2. Enter this one-time code")
	if !strings.HasPrefix(verification, srv.URL+"/") || code == "" {
		t.Fatalf("device login printed %q and %q:\n%s", verification, code, stderr)
	}
	if err := oidctest.NewBrowser().ApproveDevice(ctx, verification, code, oidctest.Username, oidctest.Password); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("login --device-auth exited %d:\n%s", c, stderr)
		}
	case <-ctx.Done():
		t.Fatal("login --device-auth did not end after the approval")
	}

	_, got := runEnv(t, env, "--provider", "corp", "login", "status")
	want := result{Lines: []string{"Logged in to corp (" + srv.URL + ") as " + oidctest.UserEmail}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("login status (-want +got):\n%s", diff)
	}
	out, got := runEnv(t, env, "--provider", "corp", "login", "status", "--json")
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || got.Code != 0 {
		t.Fatalf("login status --json = %q, %+v, %v", out, got, err)
	}
	wantLoc := filepath.Join(home, "codex-auth", "providers", "corp", "auth.json")
	if !st.LoggedIn || st.Method != store.AuthModeOIDC || st.Provider != "corp" || st.Subject != oidctest.UserID || st.Email != oidctest.UserEmail || st.ExpiresAt == nil || st.Location != wantLoc {
		t.Errorf("login status --json = %+v", st)
	}

	// token, chosen by the environment, on a pipe.
	penv := map[string]string{"CODEX_AUTH_PROVIDER": "corp"}
	for k, v := range env {
		penv[k] = v
	}
	s, err := store.OpenProvider(store.Home{Dir: home}, "corp", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load(t.Context())
	if err != nil || rec == nil {
		t.Fatalf("the provider's record: %v, %v", rec, err)
	}
	out, got = runEnv(t, penv, "token")
	if got.Code != 0 || out != rec.Tokens.AccessToken+"\n" {
		t.Errorf("token: exit %d, %v; the stored access token printed: %t", got.Code, got.Lines, out == rec.Tokens.AccessToken+"\n")
	}
	out, got = runEnv(t, penv, "token", "--refresh")
	rec2, _ := s.Load(t.Context())
	if got.Code != 0 || out == rec.Tokens.AccessToken+"\n" || out != rec2.Tokens.AccessToken+"\n" {
		t.Errorf("token --refresh: exit %d, %v; a new token, the one stored: %t, %t", got.Code, got.Lines, out != rec.Tokens.AccessToken+"\n", out == rec2.Tokens.AccessToken+"\n")
	}
	for _, l := range got.Lines {
		if strings.Contains(l, rec2.Tokens.AccessToken) {
			t.Error("the token on stderr")
		}
	}

	// Codex's sign-in sees none of it.
	if _, got := runEnv(t, env, "login", "status"); got.Code != 1 || len(got.Lines) != 1 || got.Lines[0] != "Not logged in" {
		t.Errorf("Codex's login status = %+v", got)
	}
	if _, err := os.Stat(filepath.Join(home, "auth.json")); !os.IsNotExist(err) {
		t.Errorf("Codex's auth.json after a provider's login: %v", err)
	}

	_, got = runEnv(t, env, "--provider", "corp", "logout")
	if diff := cmp.Diff(result{Lines: []string{"Successfully logged out"}}, got); diff != "" {
		t.Errorf("logout (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(wantLoc); !os.IsNotExist(err) {
		t.Errorf("the provider's record after logout: %v", err)
	}
	if _, got := runEnv(t, penv, "token"); got.Code != 1 || len(got.Lines) != 1 || got.Lines[0] != "Not logged in" {
		t.Errorf("token after logout = %+v", got)
	}
}

// TestProviderCLIBrowser: `codex-auth --provider corp login` on a
// headless machine prints the URL; the user signs in on the provider's
// form elsewhere.
func TestProviderCLIBrowser(t *testing.T) {
	srv := oidctest.Start(t)
	_, env := providerHome(t, srv)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	stderr := &lineWriter{lines: make(chan string, 64)}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--provider", "corp", "login"}, strings.NewReader(""), io.Discard, stderr, func(k string) string { return env[k] })
	}()
	authURL := after(t, ctx, stderr, done, "navigate to this URL")
	if !strings.HasPrefix(authURL, srv.URL+"/auth?") {
		t.Fatalf("URL printed: %q", authURL)
	}
	if hint := after(t, ctx, stderr, done, session.HeadlessMessage); !strings.Contains(hint, "codex-auth --provider corp login --device-auth") {
		t.Errorf("headless hint = %q", hint)
	}
	pg, err := oidctest.NewBrowser().Login(ctx, authURL, oidctest.Username, oidctest.Password)
	if err != nil || pg.URL.Path != "/success" {
		t.Fatalf("the browser: %v, ended on %v", err, pg)
	}
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("login exited %d:\n%s", c, stderr)
		}
	case <-ctx.Done():
		t.Fatal("login did not end after the redirect")
	}
	if _, got := runEnv(t, env, "--provider", "corp", "login", "status"); got.Code != 0 {
		t.Errorf("login status = %+v", got)
	}
}

// TestProviderCLIErrors: a provider not defined or not allowed, Codex's
// login types, Codex's flags, and a token for a terminal are refused,
// each with a clear message.
func TestProviderCLIErrors(t *testing.T) {
	srv := oidctest.Start(t)
	_, env := providerHome(t, srv)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--provider", "nope", "login", "status"}, 1, `provider "nope" is not defined`},
		{[]string{"--provider", "../x", "login"}, 2, "--provider"},
		{[]string{"--provider", "corp", "login", "--with-api-key"}, 2, "Codex's sign-in"},
		{[]string{"--provider", "corp", "login", "--issuer", "http://127.0.0.1:1"}, 1, "--issuer and --client-id are Codex's"},
	} {
		_, got := runEnv(t, env, tc.args...)
		if got.Code != tc.code || !strings.Contains(strings.Join(got.Lines, "\n"), tc.want) {
			t.Errorf("%v = %+v, want exit %d saying %q", tc.args, got, tc.code, tc.want)
		}
	}
	writeConfig(t, filepath.Join(env["CODEX_AUTH_SYSTEM_CONFIG_DIR"], "managed_config.toml"), "[codex_auth]\nallowed_providers = [\"other\"]\n")
	if _, got := runEnv(t, env, "--provider", "corp", "login", "status"); got.Code != 1 || !strings.Contains(strings.Join(got.Lines, "\n"), "not allowed") {
		t.Errorf("a provider allowed_providers leaves out = %+v", got)
	}
}
