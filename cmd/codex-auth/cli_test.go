package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/codex-auth/codex-auth/store"
	"github.com/google/go-cmp/cmp"
)

// result is one command's stderr lines (without Codex's PATH-aliases
// warning) and exit code.
type result struct {
	Lines []string
	Code  int
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "WARNING: proceeding") {
			out = append(out, l)
		}
	}
	return out
}

// ours runs codex-auth in process on home.
func ours(t *testing.T, home, stdin string, args ...string) (result, string) {
	t.Helper()
	env := map[string]string{"CODEX_HOME": home, "HOME": home, "CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system")}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, func(k string) string { return env[k] })
	return result{Lines: lines(stderr.String()), Code: code}, stdout.String()
}

// theirs runs the real Codex CLI on home.
func theirs(t *testing.T, home, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Codex(t), args...)
	cmd.Env = testenv.CodexEnv(home)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{Lines: lines(stderr.String()), Code: code}
}

func tempHome(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func unsignedJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestStatusMatchesCodex(t *testing.T) {
	id := unsignedJWT(`{"email":"dev@example.com","https://api.openai.com/auth":{"chatgpt_plan_type":"pro","chatgpt_account_id":"ws-9"}}`)
	access := unsignedJWT(`{"exp":4102444800}`)
	tests := []struct{ name, authJSON string }{
		{"nothing", ""},
		{"api key", `{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-abcdefghijklmnopqrstuvwxyz"}`},
		{"short key", `{"auth_mode":"apikey","OPENAI_API_KEY":"abcdefghijklm"}`},
		{"legacy key", `{"OPENAI_API_KEY":"sk-legacy-abcdefghijk"}`},
		{"chatgpt", `{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"id_token":"` + id + `","access_token":"` + access + `","refresh_token":"r","account_id":"ws-9"}}`},
		{"missing key", `{"auth_mode":"apikey","OPENAI_API_KEY":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := tempHome(t)
			if tt.authJSON != "" {
				if err := os.WriteFile(filepath.Join(home, "auth.json"), []byte(tt.authJSON), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want := theirs(t, home, "", "login", "status")
			got, stdout := ours(t, home, "", "login", "status")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("login status (-codex +ours):\n%s", diff)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestStatusCorruptExitCode(t *testing.T) {
	home := tempHome(t)
	if err := os.WriteFile(filepath.Join(home, "auth.json"), []byte(`{"auth_mode":`), 0o600); err != nil {
		t.Fatal(err)
	}
	want := theirs(t, home, "", "login", "status")
	got, _ := ours(t, home, "", "login", "status")
	if got.Code != want.Code || len(got.Lines) != 1 || !strings.HasPrefix(got.Lines[0], "Error checking login status: ") {
		t.Errorf("corrupt: ours %+v, codex %+v", got, want)
	}
}

func TestLoginLogoutMatchCodex(t *testing.T) {
	const key = "sk-cli-abcdefghijklmnop"
	// The same sequence on one home per tool.
	codexHome, ourHome := tempHome(t), tempHome(t)
	for i, step := range []struct {
		stdin string
		args  []string
	}{
		{key + "\n", []string{"login", "--with-api-key"}},
		{"", []string{"login", "status"}},
		{"", []string{"logout"}},
		{"", []string{"logout"}},
		{"", []string{"login", "status"}},
		{"  \n", []string{"login", "--with-api-key"}},
	} {
		want := theirs(t, codexHome, step.stdin, step.args...)
		got, _ := ours(t, ourHome, step.stdin, step.args...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("step %d %v (-codex +ours):\n%s", i, step.args, diff)
		}
	}
	// Files written by both are the same bytes, mode 0600.
	theirs(t, codexHome, key, "login", "--with-api-key")
	ours(t, ourHome, key, "login", "--with-api-key")
	a, _ := os.ReadFile(filepath.Join(codexHome, "auth.json"))
	b, _ := os.ReadFile(filepath.Join(ourHome, "auth.json"))
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("auth.json (-codex +ours):\n%s", diff)
	}
	if fi, err := os.Stat(filepath.Join(ourHome, "auth.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("our auth.json: %v, %v", fi, err)
	}
	// What we wrote, Codex reads; what Codex logs out, we see gone.
	if got := theirs(t, ourHome, "", "login", "status"); got.Code != 0 {
		t.Errorf("codex status on our login: %+v", got)
	}
}

func TestStatusJSON(t *testing.T) {
	home := tempHome(t)
	id := unsignedJWT(`{"email":"dev@example.com","https://api.openai.com/auth":{"chatgpt_plan_type":"pro","chatgpt_account_id":"ws-9"}}`)
	access := unsignedJWT(`{"exp":4102444800}`)
	rec := `{"auth_mode":"chatgpt","OPENAI_API_KEY":"sk-exchanged-abcdefghijk","tokens":{"id_token":"` + id + `","access_token":"` + access + `","refresh_token":"rt-secret","account_id":"ws-9"}}`
	if err := os.WriteFile(filepath.Join(home, "auth.json"), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	res, stdout := ours(t, home, "", "login", "status", "--json")
	if res.Code != 0 {
		t.Fatalf("exit %d: %v", res.Code, res.Lines)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	want := map[string]any{
		"logged_in": true, "method": "chatgpt", "email": "dev@example.com", "plan": "pro",
		"workspace": "ws-9", "expires_at": "2100-01-01T00:00:00Z", "store": "file",
		"location": filepath.Join(home, "auth.json"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--json (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"rt-secret", "sk-exchanged", access} {
		if strings.Contains(stdout, secret) {
			t.Errorf("--json output reveals a secret")
		}
	}

	empty := tempHome(t)
	res, stdout = ours(t, empty, "", "login", "status", "--json")
	if res.Code != 1 || !strings.Contains(stdout, `"logged_in": false`) {
		t.Errorf("logged out --json: exit %d, %s", res.Code, stdout)
	}
}

func TestErrors(t *testing.T) {
	home := tempHome(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `codex-auth: unknown command "frobnicate"`},
		{"bad store", []string{"--store", "vault", "logout"}, 2, "codex-auth: --store: unknown credentials store"},
		{"two login kinds", []string{"login", "--device-auth", "--with-api-key"}, 2, "codex-auth: login: --with-api-key and --device-auth cannot be used together"},
		{"missing home", []string{"--store", "file", "login", "status"}, 1, "Error loading configuration: CODEX_HOME points to"},
	}
	for _, tt := range tests {
		h := home
		if tt.name == "missing home" {
			h = filepath.Join(home, "missing")
		}
		res, stdout := ours(t, h, "", tt.args...)
		if res.Code != tt.code || len(res.Lines) != 1 || !strings.HasPrefix(res.Lines[0], tt.want) || stdout != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit %d, one line starting %q", tt.name, res.Code, res.Lines, stdout, tt.code, tt.want)
		}
	}
}

func TestMalformedConfig(t *testing.T) {
	home := tempHome(t)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("x = \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, _ := ours(t, home, "", "login", "status")
	if res.Code != 1 || len(res.Lines) != 1 || !strings.Contains(res.Lines[0], filepath.Join(home, "config.toml")+":1:") {
		t.Errorf("malformed config: %+v", res)
	}
}

func TestStoreFlagEphemeral(t *testing.T) {
	home := tempHome(t)
	res, _ := ours(t, home, "sk-ephemeral-0123456789", "--store", "ephemeral", "login", "--with-api-key")
	if res.Code != 0 {
		t.Fatalf("login: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(home, "auth.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ephemeral login wrote auth.json")
	}
	if _, err := store.ParseMode("ephemeral"); err != nil {
		t.Fatal(err)
	}
}

func TestTerminalDetection(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) || isTerminal(strings.NewReader("x")) {
		t.Errorf("isTerminal true for %s or a reader", os.DevNull)
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		t.Skipf("no controlling terminal: %v", err)
	}
	defer tty.Close()
	if !isTerminal(tty) {
		t.Errorf("isTerminal(/dev/tty) = false")
	}
}

func TestVersion(t *testing.T) {
	old := version
	version = "v9.9.9-test"
	defer func() { version = old }()
	res, stdout := ours(t, tempHome(t), "", "version")
	if res.Code != 0 || stdout != "codex-auth v9.9.9-test\n" {
		t.Errorf("version: exit %d, stdout %q", res.Code, stdout)
	}
}
