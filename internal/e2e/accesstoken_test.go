package e2e

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

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

var patUser = localissuer.User{Email: "pat@example.com", PlanType: "business", WorkspaceID: "ws-pat"}

// newPAT is a personal access token the local issuer's whoami accepts.
func newPAT() string { return "at-e2e-" + randomHex(12) }

// codexWith runs the Codex CLI on home with stdin and extra environment
// ("K=V"); it returns the exit code and stderr without Codex's temp-dir
// warning line.
func codexWith(t *testing.T, home, stdin string, extra []string, args ...string) (int, string) {
	t.Helper()
	return runTool(t, testenv.Codex(t), append(testenv.CodexEnv(home), extra...), stdin, args...)
}

// ours runs the real codex-auth binary's CLI on home the same way.
func ours(t *testing.T, home, stdin string, extra []string, args ...string) (int, string) {
	t.Helper()
	return runTool(t, testenv.BuildBinary(t), e2eutil.Env(home, extra...), stdin, args...)
}

func runTool(t *testing.T, bin string, env []string, stdin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(l, "WARNING: proceeding, even though we could not create PATH aliases") {
			lines = append(lines, l)
		}
	}
	out := strings.Join(lines, "\n")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &exit):
		return exit.ExitCode(), out
	}
	t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	return 0, ""
}

// authAPI is the environment pointing the Codex CLI's whoami at iss.
func authAPI(iss *localissuer.Server) []string {
	return []string{"CODEX_AUTHAPI_BASE_URL=" + iss.BaseURL() + "/api/accounts"}
}

func emailIs(email string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var u updated
		return json.Unmarshal(raw, &u) == nil && u.Email == email
	}
}

func TestCodexAccessTokenLoginSeenByCodexAuth(t *testing.T) {
	ctx := testCtx(t, 2*waitLimit)
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{patUser}})
	home := t.TempDir()
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	pat := newPAT()

	mark := p.Len()
	code, out := codexWith(t, home, pat+"\n", authAPI(iss), "login", "--with-access-token")
	if code != 0 || out != "Reading access token from stdin...\nSuccessfully logged in" {
		t.Fatalf("codex login --with-access-token: exit %d, %q", code, out)
	}
	if iss.Stats().WhoamiCalls == 0 {
		t.Error("Codex did not ask the local issuer's whoami")
	}
	// The sidecar notices, then learns the email from whoami (account/read
	// asks in the background and never waits).
	if _, err := p.WaitNotification(ctx, mark, "account/updated", authModeIs("personalAccessToken")); err != nil {
		t.Fatalf("after codex login --with-access-token: %v", err)
	}
	var acct account
	if err := p.Call(ctx, "account/read", nil, &acct); err != nil {
		t.Fatal(err)
	}
	if acct.Account == nil || acct.Account.Type != "personalAccessToken" {
		t.Fatalf("account/read = %+v", acct.Account)
	}
	if acct.Account.Email == "" {
		if _, err := p.WaitNotification(ctx, mark, "account/updated", emailIs("pat@example.com")); err != nil {
			t.Fatalf("no account/updated with whoami's email: %v", err)
		}
		if err := p.Call(ctx, "account/read", nil, &acct); err != nil {
			t.Fatal(err)
		}
	}
	if a := acct.Account; a.Email != "pat@example.com" || a.PlanType != "business" || a.WorkspaceID != "ws-pat" {
		t.Errorf("account/read = %+v, want pat@example.com, business, ws-pat", *a)
	}
	var tok token
	if err := p.Call(ctx, "account/token", nil, &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Type != "personalAccessToken" || tok.AccessToken != pat {
		t.Errorf("account/token type %q, the token given: %v", tok.Type, tok.AccessToken == pat)
	}

	// Our CLI says what Codex says.
	env := []string{"CODEX_AUTH_ISSUER=" + iss.BaseURL()}
	wantStatus := "Logged in using personal access token"
	if code, out := codexWith(t, home, "", authAPI(iss), "login", "status"); code != 0 || out != wantStatus {
		t.Errorf("codex login status: exit %d, %q", code, out)
	}
	if code, out := ours(t, home, "", env, "login", "status"); code != 0 || out != wantStatus {
		t.Errorf("codex-auth login status: exit %d, %q; want 0, %q", code, out, wantStatus)
	}

	mark = p.Len()
	if code, out := codexWith(t, home, "", authAPI(iss), "logout"); code != 0 || out != "Successfully logged out" {
		t.Fatalf("codex logout: exit %d, %q", code, out)
	}
	if _, err := p.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
		t.Errorf("after codex logout: %v", err)
	}
}

func TestCodexAuthAccessTokenLoginSeenByCodex(t *testing.T) {
	ctx := testCtx(t, 2*waitLimit)
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{patUser}})
	home := t.TempDir()
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	pat := newPAT()

	var res e2eutil.LoginResult
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "accessToken", "accessToken": pat}, &res); err != nil {
		t.Fatalf("account/login/start accessToken: %v", err)
	}
	if res.Type != "accessToken" {
		t.Errorf("result type %q, want accessToken", res.Type)
	}
	data, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"OPENAI_API_KEY\": null,\n  \"personal_access_token\": \"" + pat + "\"\n}"; string(data) != want {
		t.Errorf("auth.json is not Codex's record:\n%s", redact(string(data)))
	}
	if code, out := codexWith(t, home, "", authAPI(iss), "login", "status"); code != 0 || out != "Logged in using personal access token" {
		t.Errorf("codex login status after the sidecar's login: exit %d, %q", code, out)
	}

	// The CLI's login, and a token whoami rejects.
	env := []string{"CODEX_AUTH_ISSUER=" + iss.BaseURL()}
	second := newPAT()
	if code, out := ours(t, home, second+"\n", env, "login", "--with-access-token"); code != 0 || out != "Reading access token from stdin...\nSuccessfully logged in" {
		t.Fatalf("codex-auth login --with-access-token: exit %d, %q", code, out)
	}
	if _, err := p.WaitNotification(ctx, 0, "account/sessionInvalidated", reasonIs("accountChanged")); err != nil {
		t.Errorf("the sidecar did not see the second token: %v", err)
	}
	if code, out := codexWith(t, home, "", authAPI(iss), "login", "status"); code != 0 || out != "Logged in using personal access token" {
		t.Errorf("codex login status after codex-auth login: exit %d, %q", code, out)
	}
	rejected := newPAT()
	iss.RevokeAccessToken(rejected)
	code, out := ours(t, home, rejected+"\n", env, "login", "--with-access-token")
	if code != 1 || !strings.Contains(out, "Error logging in with access token: ") {
		t.Errorf("a rejected token: exit %d, %q", code, out)
	}
	if strings.Contains(out, rejected) {
		t.Error("the rejected token was printed")
	}

	if code, out := ours(t, home, "", env, "logout"); code != 0 || out != "Successfully logged out" {
		t.Errorf("codex-auth logout: exit %d, %q", code, out)
	}
	if code, out := codexWith(t, home, "", authAPI(iss), "login", "status"); code != 1 || out != "Not logged in" {
		t.Errorf("codex login status after codex-auth logout: exit %d, %q", code, out)
	}
}

// TestAccessTokenPolicyAsCodex compares codex-auth's login and status with
// the Codex CLI's under each managed policy, on the same home.
func TestAccessTokenPolicyAsCodex(t *testing.T) {
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{patUser}})
	env := append([]string{"CODEX_AUTH_ISSUER=" + iss.BaseURL()}, authAPI(iss)...)
	for _, cfg := range []string{
		`forced_login_method = "chatgpt"`,
		`forced_login_method = "api"`,
		`forced_chatgpt_workspace_id = "ws-pat"`,
		`forced_chatgpt_workspace_id = "ws-other"`,
	} {
		t.Run(cfg, func(t *testing.T) {
			codexHome, ourHome := t.TempDir(), t.TempDir()
			for _, h := range []string{codexHome, ourHome} {
				if err := os.WriteFile(filepath.Join(h, "config.toml"), []byte(cfg+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pat := newPAT()
			cc, co := codexWith(t, codexHome, pat+"\n", env, "login", "--with-access-token")
			oc, oo := ours(t, ourHome, pat+"\n", env, "login", "--with-access-token")
			if cc != oc || co != oo {
				t.Errorf("login: codex exit %d %q; codex-auth exit %d %q", cc, co, oc, oo)
			}
			// A record stored before the policy: status, and whether it
			// is kept.
			for _, h := range []string{codexHome, ourHome} {
				if err := os.WriteFile(filepath.Join(h, "auth.json"), []byte(`{"OPENAI_API_KEY":null,"personal_access_token":"`+pat+`"}`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cc, co = codexWith(t, codexHome, "", env, "login", "status")
			oc, oo = ours(t, ourHome, "", env, "login", "status")
			if cc != oc || co != oo {
				t.Errorf("status: codex exit %d %q; codex-auth exit %d %q", cc, co, oc, oo)
			}
			_, cerr := os.Stat(filepath.Join(codexHome, "auth.json"))
			_, oerr := os.Stat(filepath.Join(ourHome, "auth.json"))
			if (cerr == nil) != (oerr == nil) {
				t.Errorf("after status, codex kept the record: %v; codex-auth kept it: %v", cerr == nil, oerr == nil)
			}
		})
	}
}

// TestAgentIdentityAsCodexWritesIt reads an agent identity record written
// as Codex 0.171 writes it (making one needs OpenAI's servers).
func TestAgentIdentityAsCodexWritesIt(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	jwt := enc(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"}) + "." + enc(map[string]any{
		"agent_runtime_id": "rt-e2e", "agent_private_key": "private-" + randomHex(8), "account_id": "ws-agent",
		"chatgpt_user_id": "user-agent", "email": "agent@example.com", "plan_type": "enterprise", "exp": 4102444800,
	}) + ".c2ln"
	rec := "{\n  \"auth_mode\": \"agentIdentity\",\n  \"OPENAI_API_KEY\": null,\n  \"agent_identity\": \"" + jwt + "\"\n}"
	if err := e2eutil.WriteAtomic(home, "auth.json", []byte(rec)); err != nil {
		t.Fatal(err)
	}
	env := []string{"CODEX_AUTH_ISSUER=" + iss.BaseURL()}
	if code, out := ours(t, home, "", env, "login", "status"); code != 0 || out != "Logged in using access token" {
		t.Errorf("codex-auth login status: exit %d, %q; want 0, Logged in using access token", code, out)
	}
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	var acct account
	if err := p.Call(ctx, "account/read", nil, &acct); err != nil {
		t.Fatal(err)
	}
	if a := acct.Account; a == nil || a.Type != "agentIdentity" || a.Email != "agent@example.com" || a.WorkspaceID != "ws-agent" || a.PlanType != "enterprise" {
		t.Errorf("account/read = %+v", acct.Account)
	}
	err := p.Call(ctx, "account/token", nil, nil)
	var re *e2eutil.RPCError
	if !errors.As(err, &re) || re.Code != -32014 || !strings.Contains(re.Message, "agent identity") {
		t.Errorf("account/token = %v, want -32014 saying why", err)
	}
	if strings.Contains(p.Transcript(), "private-") {
		t.Error("the agent's private key claim reached the wire")
	}
}

// TestAccessTokenFromEnvironmentAsCodex: CODEX_ACCESS_TOKEN stands in for
// whatever is stored (measured: even a stored API key), for both tools.
func TestAccessTokenFromEnvironmentAsCodex(t *testing.T) {
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{patUser}})
	env := append([]string{"CODEX_AUTH_ISSUER=" + iss.BaseURL(), "CODEX_ACCESS_TOKEN=" + newPAT()}, authAPI(iss)...)
	for _, stored := range []string{"", string(e2eutil.APIKeyRecord("sk-e2e-env-" + randomHex(8)))} {
		home := t.TempDir()
		if stored != "" {
			if err := e2eutil.WriteAtomic(home, "auth.json", []byte(stored)); err != nil {
				t.Fatal(err)
			}
		}
		cc, co := codexWith(t, home, "", env, "login", "status")
		oc, oo := ours(t, home, "", env, "login", "status")
		if cc != oc || co != oo || co != "Logged in using personal access token" {
			t.Errorf("stored %v: codex exit %d %q; codex-auth exit %d %q", stored != "", cc, co, oc, oo)
		}
		// The sidecar serves it too (Codex's app-server does).
		ctx := testCtx(t, waitLimit)
		p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL(), env[1]))
		var acct account
		if err := p.Call(ctx, "account/read", nil, &acct); err != nil {
			t.Fatal(err)
		}
		if acct.Account == nil || acct.Account.Type != "personalAccessToken" || acct.Store.Location != "environment: CODEX_ACCESS_TOKEN" {
			t.Errorf("stored %v: sidecar account/read = %+v at %q", stored != "", acct.Account, acct.Store.Location)
		}
		var tok token
		if err := p.Call(ctx, "account/token", nil, &tok); err != nil {
			t.Fatal(err)
		}
		if tok.Type != "personalAccessToken" || "CODEX_ACCESS_TOKEN="+tok.AccessToken != env[1] {
			t.Errorf("stored %v: sidecar account/token is not the environment's token (type %q)", stored != "", tok.Type)
		}
	}
}
