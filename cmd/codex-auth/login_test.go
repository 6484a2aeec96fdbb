package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/google/go-cmp/cmp"
)

// startIssuer runs the local issuer in process for one test.
func startIssuer(t *testing.T, cfg localissuer.Config) (*localissuer.Server, string) {
	t.Helper()
	srv, err := localissuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, base
}

// lineWriter hands each complete line written to it to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	all   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		select {
		case w.lines <- strings.TrimRight(line, "\n"):
		default:
		}
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

func TestDeviceLoginAndLogoutCLI(t *testing.T) {
	iss, base := startIssuer(t, localissuer.Config{
		Users:          []localissuer.User{{Email: "ada@example.com", PlanType: "pro", WorkspaceID: "ws-1"}},
		DeviceInterval: time.Second,
	})
	home := tempHome(t)
	env := map[string]string{"CODEX_HOME": home, "HOME": home, "CODEX_AUTH_ISSUER": base,
		"CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
	getenv := func(k string) string { return env[k] }

	stderr := &lineWriter{lines: make(chan string, 64)}
	done := make(chan int, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	go func() {
		done <- run(ctx, []string{"login", "--device-auth"}, strings.NewReader(""), io.Discard, stderr, getenv)
	}()
	// The code is printed indented on the line after "2. Enter this...".
	codeRE := regexp.MustCompile(`^\s+([A-Z0-9]{4,}-?[A-Z0-9]{2,})\s*$`)
	var code string
	for code == "" {
		select {
		case l := <-stderr.lines:
			if m := codeRE.FindStringSubmatch(l); m != nil {
				code = m[1]
			}
		case c := <-done:
			t.Fatalf("login exited %d before printing a code:\n%s", c, stderr)
		case <-ctx.Done():
			t.Fatalf("no user code printed:\n%s", stderr)
		}
	}
	if !strings.Contains(stderr.String(), base+"/codex/device") {
		t.Errorf("the verification URL is not printed:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "phishing") {
		t.Errorf("no phishing warning:\n%s", stderr)
	}
	if err := iss.ApproveDevice(code); err != nil {
		t.Fatalf("approving %q: %v", code, err)
	}
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("login --device-auth exited %d:\n%s", c, stderr)
		}
	case <-ctx.Done():
		t.Fatal("login --device-auth did not finish after approval")
	}

	got, _ := ours(t, home, "", "login", "status")
	want := result{Lines: []string{"Logged in using ChatGPT"}, Code: 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("login status after device login (-want +got):\n%s", diff)
	}
	// The real Codex CLI sees the same login.
	if diff := cmp.Diff(want, theirs(t, home, "", "login", "status")); diff != "" {
		t.Errorf("codex login status after our device login (-want +got):\n%s", diff)
	}

	revokedBefore := iss.Stats().Revocations
	var out, errb bytes.Buffer
	if c := run(ctx, []string{"logout"}, strings.NewReader(""), &out, &errb, getenv); c != 0 {
		t.Fatalf("logout exited %d: %s", c, errb.String())
	}
	if diff := cmp.Diff([]string{"Successfully logged out"}, lines(errb.String())); diff != "" {
		t.Errorf("logout (-want +got):\n%s", diff)
	}
	if got := iss.Stats().Revocations; got <= revokedBefore {
		t.Errorf("issuer revocations = %d after logout, want more than %d", got, revokedBefore)
	}
	if _, err := os.Stat(filepath.Join(home, "auth.json")); !os.IsNotExist(err) {
		t.Errorf("auth.json after logout: %v", err)
	}
}

func TestDeviceLoginDisabledCLI(t *testing.T) {
	_, base := startIssuer(t, localissuer.Config{DeviceDisabled: true})
	home := tempHome(t)
	env := map[string]string{"CODEX_HOME": home, "HOME": home, "CODEX_AUTH_ISSUER": base,
		"CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
	var errb bytes.Buffer
	c := run(t.Context(), []string{"login", "--device-auth"}, strings.NewReader(""), io.Discard, &errb, func(k string) string { return env[k] })
	if c != 1 || !strings.Contains(errb.String(), "device code login is not enabled") {
		t.Errorf("exit %d, stderr %q; want 1 and the not-enabled message", c, errb.String())
	}
}

func TestPolicyViolationAtStatus(t *testing.T) {
	home := tempHome(t)
	if got, _ := ours(t, home, "sk-policy-0123456789abcdef\n", "login", "--with-api-key"); got.Code != 0 {
		t.Fatalf("login: %+v", got)
	}
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("forced_login_method = \"chatgpt\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := ours(t, home, "", "login", "status")
	want := result{Lines: []string{"API key login is disabled. Use ChatGPT login instead. Logging out."}, Code: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("login status under a violated policy (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(home, "auth.json")); !os.IsNotExist(err) {
		t.Errorf("auth.json still there after a policy violation: %v", err)
	}
}

func TestIssuerPrecedence(t *testing.T) {
	home := tempHome(t)
	if err := os.WriteFile(filepath.Join(home, "config.toml"),
		[]byte("[codex_auth]\nissuer = \"http://127.0.0.1:1001\"\nclient_id = \"from-config\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		flags    stackFlags
		env      map[string]string
		wantBase string
	}{
		{"config", stackFlags{}, nil, "http://127.0.0.1:1001"},
		{"env over config", stackFlags{}, map[string]string{envIssuer: "http://127.0.0.1:1002"}, "http://127.0.0.1:1002"},
		{"flag over env", stackFlags{issuer: "http://127.0.0.1:1003"}, map[string]string{envIssuer: "http://127.0.0.1:1002"}, "http://127.0.0.1:1003"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CODEX_HOME": home, "HOME": home, "CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
			for k, v := range tc.env {
				env[k] = v
			}
			tc.flags.logLevel = "error"
			st, err := buildStack(tc.flags, func(k string) string { return env[k] }, discardLogger(), hooks{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			if got := st.issuer.Base(); got != tc.wantBase {
				t.Errorf("issuer = %q, want %q", got, tc.wantBase)
			}
			if st.issuer.IsDefault() {
				t.Error("IsDefault() = true for a configured issuer")
			}
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestBrowserLoginCLIHeadless: with no display, `login` prints the URL and
// the device-code hint, and waits; a browser elsewhere that follows the
// URL completes it.
func TestBrowserLoginCLIHeadless(t *testing.T) {
	iss, base := startIssuer(t, localissuer.Config{
		Users:                []localissuer.User{{Email: "ada@example.com", PlanType: "plus", WorkspaceID: "ws-1"}},
		AllowedRedirectPorts: []int{0},
	})
	home := tempHome(t)
	env := map[string]string{"CODEX_HOME": home, "HOME": home, "CODEX_AUTH_ISSUER": base,
		"CODEX_AUTH_CALLBACK_PORT": "0", "SSH_CONNECTION": "10.0.0.1 22 10.0.0.2 22",
		"CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
	stderr := &lineWriter{lines: make(chan string, 64)}
	done := make(chan int, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	go func() {
		done <- run(ctx, []string{"login"}, strings.NewReader(""), io.Discard, stderr, func(k string) string { return env[k] })
	}()
	var authURL string
	for authURL == "" {
		select {
		case l := <-stderr.lines:
			if strings.HasPrefix(l, base+"/oauth/authorize?") {
				authURL = l
			}
		case c := <-done:
			t.Fatalf("login exited %d before printing the URL:\n%s", c, stderr)
		case <-ctx.Done():
			t.Fatalf("no URL printed:\n%s", stderr)
		}
	}
	// The device-code hint follows the URL.
	for hint := false; !hint; {
		select {
		case l := <-stderr.lines:
			hint = strings.Contains(l, "--device-auth")
		case c := <-done:
			t.Fatalf("login exited %d before the hint:\n%s", c, stderr)
		case <-ctx.Done():
			t.Fatalf("headless, yet no device-code hint:\n%s", stderr)
		}
	}
	// The browser: follow the authorize redirect to the loopback callback.
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(authURL)
	if err != nil {
		t.Fatalf("fake browser: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("fake browser ended on %s", resp.Status)
	}
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("login exited %d:\n%s", c, stderr)
		}
	case <-ctx.Done():
		t.Fatal("login did not finish after the callback")
	}
	if s := iss.Stats(); s.CodesRedeemed != 1 {
		t.Errorf("codes redeemed = %d, want 1", s.CodesRedeemed)
	}
	got, _ := ours(t, home, "", "login", "status")
	if diff := cmp.Diff(result{Lines: []string{"Logged in using ChatGPT"}}, got); diff != "" {
		t.Errorf("login status after browser login (-want +got):\n%s", diff)
	}
}

// TestLogoutWithBadCABundle: a CA bundle that cannot be read stops the
// revoke, not the logout (the Codex CLI logs out too).
func TestLogoutWithBadCABundle(t *testing.T) {
	home := tempHome(t)
	if got, _ := ours(t, home, "sk-cabundle-0123456789abcdef\n", "login", "--with-api-key"); got.Code != 0 {
		t.Fatalf("login: %+v", got)
	}
	env := map[string]string{"CODEX_HOME": home, "HOME": home, "SSL_CERT_FILE": filepath.Join(home, "gone.pem"),
		"CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
	var errb bytes.Buffer
	code := run(t.Context(), []string{"logout"}, strings.NewReader(""), io.Discard, &errb, func(k string) string { return env[k] })
	got := lines(errb.String())
	if code != 0 || len(got) != 2 || !strings.Contains(got[0], "SSL_CERT_FILE") || got[1] != "Successfully logged out" {
		t.Errorf("logout with a bad CA bundle: exit %d, stderr %q; want 0, a warning naming SSL_CERT_FILE, then Codex's words", code, got)
	}
	if _, err := os.Stat(filepath.Join(home, "auth.json")); !os.IsNotExist(err) {
		t.Errorf("auth.json after logout: %v", err)
	}
}
