package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// runCodex runs the Codex CLI on home with stdin and returns its exit code
// and stderr.
func runCodex(t *testing.T, home, stdin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Codex(t), args...)
	cmd.Env = testenv.CodexEnv(home)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("codex %v: %v", args, err)
	return 0, ""
}

// reasonIs accepts account/sessionInvalidated params with this reason.
func reasonIs(reason string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var v invalidated
		return json.Unmarshal(raw, &v) == nil && v.Reason == reason
	}
}

// authModeIs accepts account/updated params with this authMode ("" = null).
func authModeIs(mode string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var u updated
		if json.Unmarshal(raw, &u) != nil {
			return false
		}
		return (mode == "" && u.AuthMode == nil) || (u.AuthMode != nil && *u.AuthMode == mode)
	}
}

func loginAPIKey(t *testing.T, ctx context.Context, p *e2eutil.Proc, key string) {
	t.Helper()
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "apiKey", "apiKey": key}, nil); err != nil {
		t.Fatalf("account/login/start apiKey: %v", err)
	}
}

func TestCodexCLIChangesReachSidecar(t *testing.T) {
	ctx := testCtx(t, 2*waitLimit)
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	loginAPIKey(t, ctx, p, "sk-e2e-first-"+randomHex(8))

	mark := p.Len()
	if code, out := runCodex(t, home, "", "logout"); code != 0 || !strings.Contains(out, "Successfully logged out") {
		t.Fatalf("codex logout: exit %d, %q; want 0, Successfully logged out", code, redact(out))
	}
	if _, err := p.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
		t.Errorf("after codex logout: %v", err)
	}

	loginAPIKey(t, ctx, p, "sk-e2e-second-"+randomHex(8))
	mark = p.Len()
	if code, out := runCodex(t, home, "sk-e2e-third-"+randomHex(8)+"\n", "login", "--with-api-key"); code != 0 {
		t.Fatalf("codex login --with-api-key: exit %d, %q", code, redact(out))
	}
	if _, err := p.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("accountChanged")); err != nil {
		t.Errorf("after codex login --with-api-key with another key: %v", err)
	}
}

func TestFourSidecarsSeeEachOther(t *testing.T) {
	ctx := testCtx(t, 2*waitLimit)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	env := e2eutil.SidecarEnv(home, iss.BaseURL())
	var ps []*e2eutil.Proc
	for i := range 4 {
		ps = append(ps, sidecar(t, "sidecar-"+string(rune('0'+i)), env))
	}
	loginAPIKey(t, ctx, ps[0], "sk-e2e-four-"+randomHex(8))
	for _, p := range ps {
		if _, err := p.WaitNotification(ctx, 0, "account/updated", authModeIs("apikey")); err != nil {
			t.Errorf("after a login through sidecar-0: %v", err)
		}
	}
	marks := make([]int, len(ps))
	for i, p := range ps {
		marks[i] = p.Len()
	}
	if err := ps[2].Call(ctx, "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if i == 2 {
			continue
		}
		if _, err := p.WaitNotification(ctx, marks[i], "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
			t.Errorf("after a logout through sidecar-2: %v", err)
		}
		if _, err := p.WaitNotification(ctx, marks[i], "account/updated", authModeIs("")); err != nil {
			t.Errorf("after a logout through sidecar-2: %v", err)
		}
	}
	for i, p := range ps {
		marks[i] = p.Len()
	}
	if err := e2eutil.LoginChatGPT(ctx, ps[3]); err != nil {
		t.Fatal(redact(err.Error()))
	}
	for i, p := range ps {
		if _, err := p.WaitNotification(ctx, marks[i], "account/updated", authModeIs("chatgpt")); err != nil {
			t.Errorf("after a browser login through sidecar-3: %v", err)
		}
	}
}

// keyringAccount is Codex's keyring account for home: "cli|" and the first
// 16 hex characters of the SHA-256 of the canonical path.
func keyringAccount(t *testing.T, home string) string {
	canon, err := filepath.EvalSymlinks(home)
	if err != nil {
		t.Fatal(err)
	}
	canon, err = filepath.Abs(canon)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(canon))
	return "cli|" + hex.EncodeToString(sum[:])[:16]
}

func TestKeyringEntryDeletedIsNoticed(t *testing.T) {
	testenv.Keyring(t)
	secretTool, err := exec.LookPath("secret-tool")
	if err != nil {
		testenv.Missing(t, "secret-tool not found", "install libsecret-tools (scripts/deps.sh)")
	}
	ctx := testCtx(t, waitLimit)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("cli_auth_credentials_store = \"keyring\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL(), "CODEX_AUTH_KEYRING_POLL=200ms"), "--log-level", "debug")
	loginAPIKey(t, ctx, p, "sk-e2e-keyring-"+randomHex(8))
	account := keyringAccount(t, home)
	lookup := exec.CommandContext(ctx, secretTool, "lookup", "service", "Codex Auth", "username", account)
	if out, err := lookup.Output(); err != nil || len(out) == 0 {
		t.Fatalf("secret-tool lookup of the entry the sidecar stored (%s): %v, %d bytes; want the record", account, err, len(out))
	}
	mark := p.Len()
	clear := exec.CommandContext(ctx, secretTool, "clear", "service", "Codex Auth", "username", account)
	if out, err := clear.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool clear: %v: %s", err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second) // 100 poll intervals
	defer cancel()
	if _, err := p.WaitNotification(wctx, mark, "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
		t.Errorf("after the keyring entry was deleted: %v", err)
	}
}

func TestPolicyWrittenWhileRunning(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	loginAPIKey(t, ctx, p, "sk-e2e-policy-"+randomHex(8))
	mark := p.Len()
	if err := e2eutil.WriteAtomic(home, "config.toml", []byte("forced_login_method = \"chatgpt\"\n")); err != nil {
		t.Fatal(err)
	}
	m, err := p.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("policyViolation"))
	if err != nil {
		t.Fatalf("after forced_login_method = chatgpt with an API key stored: %v", err)
	}
	var v invalidated
	if err := json.Unmarshal(m.Params, &v); err != nil || v.Message == "" {
		t.Errorf("policyViolation params %s: want a message", m.Params)
	}
	// The record is gone: the notification comes after the logout.
	if _, err := e2eutil.ReadAuth(home); !errors.Is(err, e2eutil.ErrNoAuth) {
		t.Errorf("auth.json after the policy violation: %v, want it gone", err)
	}
	code, out := runCodex(t, home, "", "login", "status")
	if code != 1 || !strings.Contains(out, "Not logged in") {
		t.Errorf("codex login status after the policy violation: exit %d, %q; want 1, Not logged in", code, redact(out))
	}
}

// TestPolicyViolationAtStart: the policy is enforced when serve starts,
// before the editor has initialized; the editor still learns why it is
// logged out: the invalidation after initialized, the reason in
// account/read's problem.
func TestPolicyViolationAtStart(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	if err := e2eutil.WriteAtomic(home, "auth.json", []byte(`{"auth_mode":"apikey","OPENAI_API_KEY":"sk-e2e-start-`+randomHex(8)+`"}`)); err != nil {
		t.Fatal(err)
	}
	if err := e2eutil.WriteAtomic(home, "config.toml", []byte("forced_login_method = \"chatgpt\"\n")); err != nil {
		t.Fatal(err)
	}
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	m, err := p.WaitNotification(ctx, 0, "account/sessionInvalidated", reasonIs("policyViolation"))
	if err != nil {
		t.Fatalf("the policy logout at start was never announced: %v", err)
	}
	var v invalidated
	if err := json.Unmarshal(m.Params, &v); err != nil || !strings.Contains(v.Message, "API key login is disabled") {
		t.Errorf("policyViolation params %s: want Codex's message", m.Params)
	}
	var st struct {
		Account *json.RawMessage `json:"account"`
		Problem string           `json:"problem"`
	}
	if err := p.Call(ctx, "account/read", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Account != nil || !strings.Contains(st.Problem, "API key login is disabled") {
		t.Errorf("account/read after the policy logout at start: account %v, problem %q; want none and the reason", st.Account != nil, st.Problem)
	}
	if _, err := e2eutil.ReadAuth(home); !errors.Is(err, e2eutil.ErrNoAuth) {
		t.Errorf("auth.json after the policy logout: %v, want it gone", err)
	}
}
