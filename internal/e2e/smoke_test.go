package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

func TestSmokeSessionLeaksNoSecret(t *testing.T) {
	ctx := testCtx(t, 2*waitLimit)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{{Email: "ada@example.com", PlanType: "pro"}}, DeviceInterval: time.Second})
	home := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "sidecar.log")
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()), "--log-file", logFile, "--log-level", "debug")

	var tokenIDs []json.RawMessage // replies allowed to hold a secret
	callToken := func(params any) token {
		t.Helper()
		id, err := p.Send("account/token", params)
		if err != nil {
			t.Fatal(err)
		}
		tokenIDs = append(tokenIDs, id)
		var tok token
		if err := p.Reply(ctx, id, &tok); err != nil {
			t.Fatalf("account/token: %v", err)
		}
		return tok
	}
	var secrets []string
	collect := func() {
		t.Helper()
		a, err := e2eutil.ReadAuth(home)
		if err != nil {
			t.Fatalf("reading the auth.json the sidecar wrote: %v", err)
		}
		secrets = append(secrets, a.Secrets()...)
	}

	var read account
	if err := p.Call(ctx, "account/read", nil, &read); err != nil {
		t.Fatal(err)
	}
	if read.Account != nil {
		t.Fatalf("account/read in an empty home: account %+v, want null", *read.Account)
	}

	// An API key.
	key := "sk-e2e-" + randomHex(16)
	secrets = append(secrets, key)
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "apiKey", "apiKey": key}, nil); err != nil {
		t.Fatalf("account/login/start apiKey: %v", err)
	}
	if err := p.Call(ctx, "account/read", nil, &read); err != nil {
		t.Fatal(err)
	}
	if read.Account == nil || read.Account.Type != "apiKey" || read.Account.APIKeyHint != key[:8]+"***"+key[len(key)-5:] {
		t.Errorf("account/read after an API-key login: %+v, want apiKey with hint %s***%s", read.Account, key[:8], key[len(key)-5:])
	}
	if tok := callToken(nil); tok.Type != "apiKey" || tok.APIKey != key {
		t.Errorf("account/token after an API-key login: type %q, key matches %v; want apiKey and the key", tok.Type, tok.APIKey == key)
	}
	collect()

	// A personal access token: saved, handed out; a rejected one and an
	// agent identity refused. None may reach a log or a frame but the
	// token reply.
	pat, rejected, agent := newPAT(), newPAT(), "eyJhbGciOiJSUzI1NiJ9.eyJhZ2VudCI6IngifQ."+randomHex(16)
	secrets = append(secrets, pat, rejected, agent)
	iss.RevokeAccessToken(rejected)
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "accessToken", "accessToken": pat}, nil); err != nil {
		t.Fatalf("account/login/start accessToken: %v", err)
	}
	if tok := callToken(nil); tok.Type != "personalAccessToken" || tok.AccessToken != pat {
		t.Errorf("account/token after an access-token login: type %q, token matches %v", tok.Type, tok.AccessToken == pat)
	}
	for _, bad := range []string{rejected, agent} {
		if err := p.Call(ctx, "account/login/start", map[string]string{"type": "accessToken", "accessToken": bad}, nil); err == nil {
			t.Error("a rejected access token or an agent identity was accepted")
		}
	}

	// The browser login.
	if err := e2eutil.LoginChatGPT(ctx, p); err != nil {
		t.Fatal(err)
	}
	collect()
	a, err := e2eutil.ReadAuth(home)
	if err != nil || a.Tokens == nil {
		t.Fatalf("auth.json after the browser login: %+v, %v; want tokens", a, err)
	}
	if tok := callToken(nil); tok.Type != "chatgpt" || tok.AccessToken != a.Tokens.AccessToken {
		t.Errorf("account/token after the browser login: type %q, same access token as auth.json %v; want chatgpt, true", tok.Type, tok.AccessToken == a.Tokens.AccessToken)
	}
	before := iss.Stats().Refreshes
	// Just stored: a forced refresh is satisfied by the login's token.
	if tok := callToken(map[string]bool{"refresh": true}); tok.AccessToken != a.Tokens.AccessToken || iss.Stats().Refreshes != before {
		t.Errorf("account/token {refresh:true} right after the login: %d refreshes, same token %v; want 0 and true",
			iss.Stats().Refreshes-before, tok.AccessToken == a.Tokens.AccessToken)
	}
	// Stored a minute ago (as another process would have): a forced
	// refresh redeems, once the sidecar has seen the change.
	raw, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	stored["last_refresh"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	raw, _ = json.MarshalIndent(stored, "", "  ")
	if err := e2eutil.WriteAtomic(home, "auth.json", raw); err != nil {
		t.Fatal(err)
	}
	var tok token
	for iss.Stats().Refreshes == before && ctx.Err() == nil {
		tok = callToken(map[string]bool{"refresh": true})
	}
	collect()
	if got := iss.Stats().Refreshes - before; got != 1 {
		t.Errorf("account/token {refresh:true} made %d refreshes, want 1", got)
	}
	if tok.AccessToken == a.Tokens.AccessToken {
		t.Errorf("account/token {refresh:true} returned the old access token")
	}
	if err := p.Call(ctx, "account/read", nil, &read); err != nil {
		t.Fatal(err)
	}
	if read.Account == nil || read.Account.Type != "chatgpt" || read.Account.Email != "ada@example.com" || read.Account.PlanType != "pro" {
		t.Errorf("account/read after the browser login: %+v, want chatgpt ada@example.com pro", read.Account)
	}

	// A device-code login.
	var dl e2eutil.LoginResult
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "chatgptDeviceCode"}, &dl); err != nil {
		t.Fatalf("account/login/start chatgptDeviceCode: %v", err)
	}
	if err := iss.ApproveDevice(dl.UserCode); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitNotification(ctx, 0, "account/login/completed", func(raw json.RawMessage) bool {
		var c e2eutil.LoginCompleted
		return json.Unmarshal(raw, &c) == nil && c.LoginID == dl.LoginID && c.Success
	}); err != nil {
		t.Fatalf("device login: %v", err)
	}
	collect()

	mark := p.Len()
	if err := p.Call(ctx, "account/logout", nil, nil); err != nil {
		t.Fatalf("account/logout: %v", err)
	}
	if _, err := p.WaitNotification(ctx, mark, "account/updated", func(raw json.RawMessage) bool {
		var u updated
		return json.Unmarshal(raw, &u) == nil && u.AuthMode == nil
	}); err != nil {
		t.Error(err)
	}
	if _, err := e2eutil.ReadAuth(home); !errors.Is(err, e2eutil.ErrNoAuth) {
		t.Errorf("auth.json after account/logout: %v, want it gone", err)
	}

	// End of input: a clean exit.
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(ctx); err != nil || code != 0 {
		t.Errorf("after end of input: exit code %d, %v; want 0", code, err)
	}

	// Now the leak check, over everything the process wrote.
	isTokenReply := func(m e2eutil.Msg) bool {
		for _, id := range tokenIDs {
			if m.Method == "" && bytes.Equal(m.ID, id) {
				return true
			}
		}
		return false
	}
	secrets = dedupe(secrets)
	if len(secrets) < 5 { // the key, id/access/refresh tokens, the refreshed ones
		t.Fatalf("collected only %d secrets from auth.json: the check would prove little", len(secrets))
	}
	for i, m := range p.Messages() {
		if isTokenReply(m) {
			continue
		}
		for j, s := range secrets {
			if bytes.Contains(m.Raw, []byte(s)) {
				t.Errorf("stdout frame %d (method %q) holds secret #%d", i, m.Method, j)
			}
		}
	}
	logData, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(logData) == 0 {
		t.Error("the debug log file is empty: the leak check on it would prove nothing")
	}
	outputs := map[string]string{"stderr": p.Stderr(), "log file": string(logData)}
	// The CLI, on the same home: a login, its status, a logout.
	cliKey := "sk-e2e-cli-" + randomHex(16)
	secrets = append(secrets, cliKey)
	for _, run := range []struct {
		stdin string
		args  []string
	}{
		{cliKey + "\n", []string{"login", "--with-api-key"}},
		{"", []string{"login", "status"}},
		{"", []string{"login", "status", "--json"}},
		{"", []string{"logout"}},
	} {
		cmd := exec.CommandContext(ctx, testenv.BuildBinary(t), run.args...)
		cmd.Env = e2eutil.SidecarEnv(home, iss.BaseURL())
		cmd.Stdin = strings.NewReader(run.stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		_ = cmd.Run()
		outputs[strings.Join(run.args, " ")+" stdout"] = out.String()
		outputs[strings.Join(run.args, " ")+" stderr"] = errOut.String()
	}
	// Nothing left behind in the home holds a secret: the record itself is
	// gone after the logout, and the saved accounts' copies
	// (account-sessions/<id>/auth.json) are credential stores by design.
	_ = filepath.WalkDir(home, func(path string, d os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(home, path); filepath.Dir(filepath.Dir(rel)) == "account-sessions" && d.Name() == "auth.json" {
			return nil
		}
		if err == nil && d.Type().IsRegular() {
			if data, err := os.ReadFile(path); err == nil {
				outputs["file "+path] = string(data)
			}
		}
		return nil
	})
	for name, out := range outputs {
		for n, line := range strings.Split(out, "\n") {
			for j, s := range secrets {
				if strings.Contains(line, s) {
					t.Errorf("%s line %d holds secret #%d", name, n+1, j)
				}
			}
		}
	}
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	ctx := testCtx(t, waitLimit)
	iss := startIssuer(t, localissuer.Config{})
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(t.TempDir(), iss.BaseURL()))
	if err := p.Call(ctx, "account/read", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second) // generous: a clean exit takes milliseconds
	defer cancel()
	code, err := p.Wait(wctx)
	if diff := cmp.Diff(0, code); err != nil || diff != "" {
		t.Errorf("exit after SIGTERM: %v, code (-want +got):\n%s", err, diff)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
