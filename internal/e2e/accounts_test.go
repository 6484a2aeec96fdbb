package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// The users of the several-accounts tests.
var (
	accAda   = localissuer.User{Email: "ada@example.com", PlanType: "pro", WorkspaceID: "ws-ada"}
	accBob   = localissuer.User{Email: "bob@example.com", PlanType: "team", WorkspaceID: "ws-bob"}
	accCarol = localissuer.User{Email: "carol@example.com", PlanType: "business", WorkspaceID: "ws-carol"}
)

// sessionList is accountSession/list's result, as much as the tests read.
type sessionList struct {
	ActiveSessionID *string `json:"activeSessionId"`
	Sessions        []struct {
		SessionID  string `json:"sessionId"`
		Type       string `json:"type"`
		Email      string `json:"email"`
		APIKeyHint string `json:"apiKeyHint"`
		NeedsLogin bool   `json:"needsLogin"`
		Forbidden  string `json:"forbidden"`
	} `json:"sessions"`
}

// active is the active session's id ("" none).
func (l sessionList) active() string {
	if l.ActiveSessionID == nil {
		return ""
	}
	return *l.ActiveSessionID
}

// id is the session id of the account with this email or key hint.
func (l sessionList) id(t *testing.T, who string) string {
	t.Helper()
	for _, s := range l.Sessions {
		if s.Email == who || (s.APIKeyHint != "" && s.APIKeyHint == who) {
			return s.SessionID
		}
	}
	t.Fatalf("no saved account %s in %+v", who, l.Sessions)
	return ""
}

func listSessions(t *testing.T, ctx context.Context, p *e2eutil.Proc) sessionList {
	t.Helper()
	var l sessionList
	if err := p.Call(ctx, "accountSession/list", map[string]any{}, &l); err != nil {
		t.Fatalf("accountSession/list: %v", err)
	}
	return l
}

// loginAs signs p in as user through the browser flow.
func loginAs(t *testing.T, ctx context.Context, iss *localissuer.Server, p *e2eutil.Proc, user localissuer.User) {
	t.Helper()
	if err := iss.SetNextUser(user.Email); err != nil {
		t.Fatal(err)
	}
	if err := e2eutil.LoginChatGPT(ctx, p); err != nil {
		t.Fatalf("login as %s: %s", user.Email, redact(err.Error()))
	}
}

// savedAuth is the saved copy of session id in home (file mode).
func savedAuth(t *testing.T, home, id string) e2eutil.AuthFile {
	t.Helper()
	a, err := e2eutil.ReadAuth(filepath.Join(home, "account-sessions", id))
	if err != nil {
		t.Fatalf("saved copy of %s: %v", id, err)
	}
	return a
}

// redeem sends refreshToken to the issuer as the Codex CLI does and
// returns the HTTP status: 200 only for the newest token of a live
// family.
func redeem(t *testing.T, ctx context.Context, base, refreshToken string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"client_id": localissuer.DefaultClientID, "grant_type": "refresh_token", "refresh_token": refreshToken})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth/token", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// codexStatus is `codex login status`'s first line and exit code.
func codexStatus(t *testing.T, home string, extra []string) (int, string) {
	t.Helper()
	code, out := codexWith(t, home, "", extra, "login", "status")
	first, _, _ := strings.Cut(out, "\n")
	return code, first
}

func updatedWith(email, mode string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var u updated
		return json.Unmarshal(raw, &u) == nil && u.Email == email && u.AuthMode != nil && *u.AuthMode == mode
	}
}

// TestAccountsSwitchSeenByEveryone: two ChatGPT users and an API key are
// signed in through one sidecar; switching among them many times, each
// switch is seen by a second sidecar and by the real Codex CLI, tokens
// rotate meanwhile (30-second tokens: the sidecars refresh in the
// background, switching to a copy whose token is due refreshes it), and in
// the end every saved account holds its newest refresh token and nothing
// was revoked or reused.
func TestAccountsSwitchSeenByEveryone(t *testing.T) {
	ctx := testCtx(t, 6*waitLimit)
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{accAda, accBob}, AccessTokenTTL: 30 * time.Second})
	home := t.TempDir()
	env := e2eutil.SidecarEnv(home, iss.BaseURL())
	a := sidecar(t, "sidecar-a", env)
	b := sidecar(t, "sidecar-b", env)
	loginAs(t, ctx, iss, a, accAda)
	loginAs(t, ctx, iss, a, accBob)
	key := "sk-proj-e2e-accounts-" + randomHex(8)
	mark := b.Len()
	loginAPIKey(t, ctx, a, key)
	if _, err := b.WaitNotification(ctx, mark, "account/updated", authModeIs("apikey")); err != nil {
		t.Fatalf("the second sidecar after the key's login: %v", err)
	}
	hint := key[:8] + "***" + key[len(key)-5:]

	l := listSessions(t, ctx, a)
	if len(l.Sessions) != 3 || l.active() != l.id(t, hint) {
		t.Fatalf("after three logins: %+v, active %q; want three, the key active", l.Sessions, l.active())
	}
	if lb := listSessions(t, ctx, b); len(lb.Sessions) != 3 || lb.active() != l.active() {
		t.Errorf("the second sidecar lists %d accounts, active %q", len(lb.Sessions), lb.active())
	}
	type target struct{ ref, who, mode, status string }
	targets := []target{
		{"ada@example.com", "ada@example.com", "chatgpt", "Logged in using ChatGPT"},
		{l.id(t, "bob@example.com"), "bob@example.com", "chatgpt", "Logged in using ChatGPT"},
		{l.id(t, hint), hint, "apikey", "API key configured - " + hint},
	}
	for i := range 12 {
		tg := targets[i%len(targets)]
		mark = b.Len()
		var got sessionList
		if err := a.Call(ctx, "accountSession/switch", map[string]string{"sessionId": tg.ref}, &got); err != nil {
			t.Fatalf("switch %d to %s: %v", i, tg.who, err)
		}
		if got.active() != got.id(t, tg.who) {
			t.Fatalf("switch %d to %s: active %q", i, tg.who, got.active())
		}
		email := tg.who
		if tg.mode == "apikey" {
			email = ""
		}
		if _, err := b.WaitNotification(ctx, mark, "account/updated", updatedWith(email, tg.mode)); err != nil {
			t.Fatalf("switch %d to %s: the second sidecar: %v", i, tg.who, err)
		}
		if code, first := codexStatus(t, home, nil); code != 0 || first != tg.status {
			t.Fatalf("switch %d to %s: codex login status: exit %d, %q; want %q", i, tg.who, code, redact(first), tg.status)
		}
		if tg.mode == "chatgpt" {
			// An editor of the second sidecar after a 401.
			var tok token
			if err := b.Call(ctx, "account/token", map[string]bool{"refresh": true}, &tok); err != nil {
				t.Fatalf("switch %d: a forced token through the second sidecar: %v", i, err)
			}
			var acct account
			if err := b.Call(ctx, "account/read", nil, &acct); err != nil || acct.Account == nil || acct.Account.Email != tg.who {
				t.Fatalf("switch %d: the second sidecar reads %+v (%v), want %s", i, acct.Account, err, tg.who)
			}
		}
	}
	// A token for the inactive ChatGPT account, refreshed from its copy.
	var tok token
	if err := a.Call(ctx, "account/token", map[string]any{"sessionId": "bob@example.com", "refresh": true}, &tok); err != nil || tok.AccountID != "ws-bob" {
		t.Fatalf("account/token for bob while the key is active: %+v, %v", tok.AccountID, err)
	}

	st := iss.Stats()
	if st.ReuseDetections != 0 || st.Revocations != 0 {
		t.Errorf("issuer: %d reuse detections, %d revocations; want none", st.ReuseDetections, st.Revocations)
	}
	if st.Refreshes < 4 {
		t.Errorf("%d refreshes: the test proves little about rotated tokens", st.Refreshes)
	}
	t.Logf("issuer: %d refreshes over the switches", st.Refreshes)
	l = listSessions(t, ctx, a)
	e2eutil.Stop(a, 10*time.Second)
	e2eutil.Stop(b, 10*time.Second)
	for _, who := range []string{"ada@example.com", "bob@example.com"} {
		copy := savedAuth(t, home, l.id(t, who))
		if code := redeem(t, ctx, iss.BaseURL(), copy.Tokens.RefreshToken); code != http.StatusOK {
			t.Errorf("%s's saved refresh token: HTTP %d; want 200 (it must be the newest of its family)", who, code)
		}
	}
	if got := savedAuth(t, home, l.id(t, hint)); got.APIKey == nil || *got.APIKey != key {
		t.Error("the key's saved copy does not hold the key")
	}
}

// refreshGate sits in front of the issuer and holds refreshes back.
type refreshGate struct {
	url string

	mu      sync.Mutex
	hold    chan struct{}
	arrived chan struct{}
}

func newRefreshGate(t *testing.T, target string) *refreshGate {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &refreshGate{arrived: make(chan struct{}, 16)}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" && r.Header.Get("Content-Type") == "application/json" {
			g.mu.Lock()
			hold := g.hold
			g.mu.Unlock()
			if hold != nil {
				g.arrived <- struct{}{}
				<-hold
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { // before Close: a held request would hang it
		g.mu.Lock()
		if g.hold != nil {
			close(g.hold)
			g.hold = nil
		}
		g.mu.Unlock()
	})
	g.url = srv.URL
	return g
}

func (g *refreshGate) close() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.hold = ch
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		if g.hold == ch {
			g.hold = nil
			close(ch)
		}
		g.mu.Unlock()
	}
}

// expiredCopy is record with its access token replaced by an expired one
// (unsigned: the sidecar reads only its exp), so that the sidecar redeems
// the record's refresh token at once.
func expiredCopy(t *testing.T, raw []byte) []byte {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	rec["tokens"].(map[string]any)["access_token"] = enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d}`, time.Now().Add(-time.Minute).Unix()))) + ".c2ln"
	out, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAccountsSwitchRacesRefresh: a sidecar redeems the active account's
// refresh token (held at the issuer, the sidecar holding the locks) while
// `codex-auth switch` in another process switches away from it and waits
// for the locks; then the other way round, the switch refreshing the
// account it switches to while the sidecar waits. The refreshed tokens
// end up in the right saved account, nothing is reused.
func TestAccountsSwitchRacesRefresh(t *testing.T) {
	ctx := testCtx(t, 4*waitLimit)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{accAda, accBob}})
	gate := newRefreshGate(t, iss.BaseURL())
	home := t.TempDir()
	env := e2eutil.SidecarEnv(home, gate.url)
	side := sidecar(t, "sidecar", env)
	loginAs(t, ctx, iss, side, accBob)
	loginAs(t, ctx, iss, side, accAda)
	l := listSessions(t, ctx, side)
	adaID, bobID := l.id(t, "ada@example.com"), l.id(t, "bob@example.com")

	// The sidecar refreshes ada (its token made expired), held at the
	// issuer; the CLI switches to bob and waits for the locks.
	adaRT := savedAuth(t, home, adaID).Tokens.RefreshToken
	raw, err := os.ReadFile(filepath.Join(home, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	release := gate.close()
	if err := e2eutil.WriteAtomic(home, "auth.json", expiredCopy(t, raw)); err != nil {
		t.Fatal(err)
	}
	openaiArrival(t, ctx, gate, "the sidecar's refresh of ada")
	mark := side.Len()
	cli := startCLI(t, home, env, "switch", "--log-level", "debug", "bob@example.com")
	select { // the switch waits for the locks the sidecar holds
	case <-cli.waiting:
	case <-ctx.Done():
		t.Fatalf("codex-auth switch never waited for the locks: %v", ctx.Err())
	}
	release()
	if code, out := waitCLI(t, cli); code != 0 || !strings.Contains(out, "Switched to bob@example.com") {
		t.Fatalf("codex-auth switch bob: exit %d, %q", code, redact(out))
	}
	if _, err := side.WaitNotification(ctx, mark, "account/updated", updatedWith("bob@example.com", "chatgpt")); err != nil {
		t.Fatalf("the sidecar after the switch: %v", err)
	}
	if got := savedAuth(t, home, adaID).Tokens.RefreshToken; got == adaRT {
		t.Error("ada's saved copy still holds the refresh token the sidecar spent")
	}

	// The CLI switches to ada, whose copy it refreshes first (expired),
	// held at the issuer; the sidecar's refresh of bob waits for the locks
	// and then finds ada active.
	adaCopy, err := os.ReadFile(filepath.Join(home, "account-sessions", adaID, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e2eutil.WriteAtomic(filepath.Join(home, "account-sessions", adaID), "auth.json", expiredCopy(t, adaCopy)); err != nil {
		t.Fatal(err)
	}
	release = gate.close()
	mark = side.Len()
	cli = startCLI(t, home, env, "switch", "--log-level", "debug", adaID)
	openaiArrival(t, ctx, gate, "the switch's refresh of ada")
	tokDone := make(chan error, 1)
	go func() {
		var tok token
		tokDone <- side.Call(ctx, "account/token", map[string]bool{"refresh": true}, &tok)
	}()
	release()
	if code, out := waitCLI(t, cli); code != 0 || !strings.Contains(out, "Switched to ada@example.com") {
		t.Fatalf("codex-auth switch ada: exit %d, %q", code, redact(out))
	}
	if err := <-tokDone; err != nil {
		t.Errorf("the sidecar's token during the switch: %v", err)
	}
	if _, err := side.WaitNotification(ctx, mark, "account/updated", updatedWith("ada@example.com", "chatgpt")); err != nil {
		t.Fatalf("the sidecar after the second switch: %v", err)
	}

	if st := iss.Stats(); st.ReuseDetections != 0 || st.TokenErrors != 0 {
		t.Errorf("issuer: %d reuse detections, %d token errors; want none", st.ReuseDetections, st.TokenErrors)
	}
	e2eutil.Stop(side, 10*time.Second)
	active, err := e2eutil.ReadAuth(home)
	if err != nil {
		t.Fatal(err)
	}
	for id, rt := range map[string]string{"ada (active)": active.Tokens.RefreshToken, "bob": savedAuth(t, home, bobID).Tokens.RefreshToken} {
		if code := redeem(t, ctx, iss.BaseURL(), rt); code != http.StatusOK {
			t.Errorf("%s's refresh token: HTTP %d, want 200 (the newest of its family)", id, code)
		}
	}
}

// openaiArrival waits until a refresh is held at the gate.
func openaiArrival(t *testing.T, ctx context.Context, g *refreshGate, what string) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-ctx.Done():
		t.Fatalf("%s never reached the issuer: %v", what, ctx.Err())
	}
}

// cliProc is the real codex-auth binary's CLI running.
type cliProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{} // closed once stderr is read to its end
	// waiting is closed when it logs that it waits for a lock (with
	// --log-level debug).
	waiting chan struct{}
}

// startCLI starts the real codex-auth binary's CLI on home.
func startCLI(t *testing.T, home string, env []string, args ...string) *cliProc {
	t.Helper()
	c := &cliProc{cmd: exec.Command(testenv.BuildBinary(t), args...), done: make(chan struct{}), waiting: make(chan struct{})}
	c.cmd.Env = env
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(pipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			c.stderr.WriteString(line + "\n")
			if !signalled && strings.Contains(line, "waiting for a lock another process holds") {
				signalled = true
				close(c.waiting)
			}
		}
	}()
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); <-c.done; _ = c.cmd.Wait() })
	return c
}

// waitCLI waits for the CLI to exit: its code and stderr.
func waitCLI(t *testing.T, c *cliProc) (int, string) {
	t.Helper()
	<-c.done
	err := c.cmd.Wait()
	out := c.stderr.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &exit):
		return exit.ExitCode(), out
	}
	t.Fatalf("codex-auth: %v", err)
	return 0, ""
}

// TestAccountsCodexLoginAndLogout: the Codex CLI logs in as a third user
// (a personal access token, checked with the local issuer's whoami: what
// the pinned Codex can do offline): the sidecar saves it; `codex logout`
// removes the active account's copy and leaves the others.
func TestAccountsCodexLoginAndLogout(t *testing.T) {
	ctx := testCtx(t, 3*waitLimit)
	testenv.Codex(t)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{accAda, accCarol}})
	home := t.TempDir()
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL()))
	loginAs(t, ctx, iss, p, accAda)
	key := "sk-proj-e2e-third-" + randomHex(8)
	loginAPIKey(t, ctx, p, key)

	if err := iss.SetNextUser(accCarol.Email); err != nil {
		t.Fatal(err)
	}
	mark := p.Len()
	if code, out := codexWith(t, home, newPAT()+"\n", authAPI(iss), "login", "--with-access-token"); code != 0 {
		t.Fatalf("codex login --with-access-token: exit %d, %q", code, redact(out))
	}
	if _, err := p.WaitNotification(ctx, mark, "account/updated", authModeIs("personalAccessToken")); err != nil {
		t.Fatalf("after the Codex CLI's login: %v", err)
	}
	l := listSessions(t, ctx, p)
	var third string
	for _, s := range l.Sessions {
		if s.Type == "accessToken" {
			third = s.SessionID
		}
	}
	if len(l.Sessions) != 3 || third == "" || l.active() != third {
		t.Fatalf("after the Codex CLI's login as carol: %+v, active %q; want three, the access token active", l.Sessions, l.active())
	}
	if code, first := codexStatus(t, home, authAPI(iss)); code != 0 || first != "Logged in using personal access token" {
		t.Errorf("codex login status: exit %d, %q", code, first)
	}

	mark = p.Len()
	if code, out := codexWith(t, home, "", nil, "logout"); code != 0 || !strings.Contains(out, "Successfully logged out") {
		t.Fatalf("codex logout: exit %d, %q", code, redact(out))
	}
	if _, err := p.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
		t.Fatalf("after codex logout: %v", err)
	}
	l = listSessions(t, ctx, p)
	if len(l.Sessions) != 2 || l.active() != "" {
		t.Errorf("after codex logout: %+v, active %q; want ada and the key, none active", l.Sessions, l.active())
	}
	if _, err := os.Stat(filepath.Join(home, "account-sessions", third)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the logged-out account's folder: %v, want it gone", err)
	}
	// The others still work: switching to ada needs no new sign-in.
	var got sessionList
	if err := p.Call(ctx, "accountSession/switch", map[string]string{"sessionId": "ada@example.com"}, &got); err != nil {
		t.Fatal(err)
	}
	if code, first := codexStatus(t, home, nil); code != 0 || first != "Logged in using ChatGPT" {
		t.Errorf("codex login status after switching to ada: exit %d, %q", code, first)
	}
}

// TestAccountsCorruptAndRebuilt: a corrupt saved account is reported and
// skipped while the others keep working; account-sessions.json lost or
// corrupt is rebuilt from the saved records.
func TestAccountsCorruptAndRebuilt(t *testing.T) {
	ctx := testCtx(t, 2*waitLimit)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{accAda, accBob}})
	home := t.TempDir()
	env := e2eutil.SidecarEnv(home, iss.BaseURL())
	p := sidecar(t, "sidecar", env)
	loginAs(t, ctx, iss, p, accAda)
	loginAs(t, ctx, iss, p, accBob)
	key := "sk-proj-e2e-corrupt-" + randomHex(8)
	loginAPIKey(t, ctx, p, key)
	l := listSessions(t, ctx, p)
	adaID, bobID, keyID := l.id(t, "ada@example.com"), l.id(t, "bob@example.com"), l.id(t, key[:8]+"***"+key[len(key)-5:])

	if err := e2eutil.WriteAtomic(filepath.Join(home, "account-sessions", bobID), "auth.json", []byte(`{"tokens": {`)); err != nil {
		t.Fatal(err)
	}
	l = listSessions(t, ctx, p)
	if len(l.Sessions) != 2 {
		t.Errorf("with bob's copy corrupt: %d listed, want 2", len(l.Sessions))
	}
	code, out := ours(t, home, "", []string{"CODEX_AUTH_ISSUER=" + iss.BaseURL()}, "accounts")
	if code != 0 || !strings.Contains(out, "Warning: a saved account cannot be read and is skipped") || !strings.Contains(out, bobID) {
		t.Errorf("codex-auth accounts with bob's copy corrupt: exit %d, %q; want the warning naming its file", code, redact(out))
	}
	var got sessionList
	if err := p.Call(ctx, "accountSession/switch", map[string]string{"sessionId": adaID}, &got); err != nil || got.active() != adaID {
		t.Fatalf("switch to ada with bob's copy corrupt: %v", err)
	}
	err := p.Call(ctx, "accountSession/switch", map[string]string{"sessionId": bobID}, nil)
	var rpcErr *e2eutil.RPCError
	if !errors.As(err, &rpcErr) || rpcErr.Code != -32015 {
		t.Errorf("switch to bob, corrupt: %v, want -32015", err)
	}
	if raw, _ := os.ReadFile(filepath.Join(home, "account-sessions", bobID, "auth.json")); string(raw) != `{"tokens": {` {
		t.Error("the corrupt copy was changed")
	}

	index := filepath.Join(home, "account-sessions.json")
	for name, damage := range map[string]func() error{
		"lost":    func() error { return os.Remove(index) },
		"corrupt": func() error { return os.WriteFile(index, []byte("not json"), 0o600) },
	} {
		if err := damage(); err != nil {
			t.Fatal(err)
		}
		if l := listSessions(t, ctx, p); len(l.Sessions) != 2 || l.active() != adaID {
			t.Errorf("index %s: %d listed, active %q; want ada and the key, ada active", name, len(l.Sessions), l.active())
		}
		// The next change writes it back.
		if err := p.Call(ctx, "account/token", map[string]string{"sessionId": "ada@example.com"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Call(ctx, "accountSession/switch", map[string]string{"sessionId": keyID}, nil); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(index)
		if err != nil || strings.Count(string(raw), `"sessionId"`) != 3 || !strings.Contains(string(raw), `"schemaVersion": 1`) {
			t.Errorf("index %s: rewritten as %s (%v); want the three accounts", name, raw, err)
		}
		if err := p.Call(ctx, "accountSession/switch", map[string]string{"sessionId": adaID}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAccountsKeyring: in keyring mode every saved account is its own
// keyring entry (service codex-auth, account "<id>|<16 hex>"), the active
// one stays Codex's entry, and the Codex CLI follows a switch.
func TestAccountsKeyring(t *testing.T) {
	testenv.Keyring(t)
	testenv.Codex(t)
	secretTool, err := exec.LookPath("secret-tool")
	if err != nil {
		testenv.Missing(t, "secret-tool not found", "install libsecret-tools (scripts/deps.sh)")
	}
	ctx := testCtx(t, 2*waitLimit)
	iss := startIssuer(t, localissuer.Config{Users: []localissuer.User{accAda}})
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("cli_auth_credentials_store = \"keyring\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(home, iss.BaseURL(), "CODEX_AUTH_KEYRING_POLL=200ms"))
	loginAs(t, ctx, iss, p, accAda)
	key := "sk-proj-e2e-keyring-" + randomHex(8)
	loginAPIKey(t, ctx, p, key)
	l := listSessions(t, ctx, p)
	adaID := l.id(t, "ada@example.com")
	t.Cleanup(func() {
		for _, s := range l.Sessions {
			_ = exec.Command(secretTool, "clear", "service", "codex-auth", "username", s.SessionID+"|"+strings.TrimPrefix(keyringAccount(t, home), "cli|")).Run()
		}
		_ = exec.Command(secretTool, "clear", "service", "Codex Auth", "username", keyringAccount(t, home)).Run()
	})
	lookup := func(service, account string) string {
		out, _ := exec.CommandContext(ctx, secretTool, "lookup", "service", service, "username", account).Output()
		return string(out)
	}
	adaEntry := adaID + "|" + strings.TrimPrefix(keyringAccount(t, home), "cli|")
	if got := lookup("codex-auth", adaEntry); !strings.Contains(got, `"refresh_token"`) {
		t.Fatalf("ada's saved entry (codex-auth/%s): %d bytes, want her record", adaEntry, len(got))
	}
	if _, err := os.Stat(filepath.Join(home, "account-sessions", adaID, "auth.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a saved record on disk in keyring mode: %v", err)
	}
	if code, first := codexStatus(t, home, nil); code != 0 || !strings.HasPrefix(first, "API key configured") {
		t.Errorf("codex login status with the key active: exit %d, %q", code, first)
	}
	var got sessionList
	if err := p.Call(ctx, "accountSession/switch", map[string]string{"sessionId": "ada@example.com"}, &got); err != nil || got.active() != adaID {
		t.Fatalf("switch to ada: %v", err)
	}
	if code, first := codexStatus(t, home, nil); code != 0 || first != "Logged in using ChatGPT" {
		t.Errorf("codex login status after the switch: exit %d, %q", code, first)
	}
	if got := lookup("Codex Auth", keyringAccount(t, home)); !strings.Contains(got, `"refresh_token"`) {
		t.Error("Codex's keyring entry does not hold ada's record after the switch")
	}
	if _, err := os.Stat(filepath.Join(home, "auth.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json beside the keyring entry: %v", err)
	}
	// The index can be rebuilt from the folders: a keyring cannot be listed.
	if err := os.Remove(filepath.Join(home, "account-sessions.json")); err != nil {
		t.Fatal(err)
	}
	if l := listSessions(t, ctx, p); len(l.Sessions) != 2 {
		t.Errorf("keyring mode, index lost: %d listed, want 2", len(l.Sessions))
	}
}
