package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/codex-auth/codex-auth/store"
)

// TestProviderSidecarsBesideCodex runs two real `codex-auth serve
// --provider corp` beside the real Codex CLI on one CODEX_HOME, against
// zitadel's OpenID provider: a browser login in one reaches the other,
// both serve the provider's one record, a logout in one ends the other's
// session, and Codex's own auth.json (and what the Codex CLI reports)
// stays exactly as it was throughout.
func TestProviderSidecarsBesideCodex(t *testing.T) {
	for _, mode := range []string{"file", "keyring"} {
		t.Run(mode, func(t *testing.T) { testProviderSidecars(t, mode) })
	}
}

func testProviderSidecars(t *testing.T, mode string) {
	ctx := testCtx(t, 2*waitLimit)
	testenv.Codex(t)
	if mode == "keyring" {
		testenv.Keyring(t)
	}
	srv := oidctest.Start(t)
	home, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	config := "[codex_auth.providers.corp]\nkind = \"oidc\"\nissuer = \"" + srv.URL + "\"\nclient_id = \"" + oidctest.PublicClient + "\"\n"
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	key := "sk-e2e-codex-" + randomHex(8)
	if code, out := runCodex(t, home, key+"\n", "login", "--with-api-key"); code != 0 {
		t.Fatalf("codex login --with-api-key: exit %d, %s", code, redact(out))
	}
	codexAuth := filepath.Join(home, "auth.json")
	before, err := os.ReadFile(codexAuth)
	if err != nil {
		t.Fatal(err)
	}
	codexStatus := func(when string) {
		t.Helper()
		if code, out := runCodex(t, home, "", "login", "status"); code != 0 || !strings.Contains(out, "API key configured") {
			t.Errorf("codex login status %s: exit %d, %s", when, code, redact(out))
		}
		if now, err := os.ReadFile(codexAuth); err != nil || string(now) != string(before) {
			t.Errorf("Codex's auth.json changed %s (%v)", when, err)
		}
	}

	env := e2eutil.Env(home, "CODEX_AUTH_KEYRING_POLL=100ms")
	a := sidecar(t, "sidecar-a", env, "--provider", "corp", "--store", mode)
	b := sidecar(t, "sidecar-b", env, "--provider", "corp", "--store", mode)

	var ls struct {
		Type    string `json:"type"`
		LoginID string `json:"loginId"`
		AuthURL string `json:"authUrl"`
	}
	if err := a.Call(ctx, "account/login/start", map[string]string{"type": "browser"}, &ls); err != nil {
		t.Fatal(err)
	}
	if ls.Type != "browser" || !strings.HasPrefix(ls.AuthURL, srv.URL+"/auth?") {
		t.Fatalf("login start = %+v", ls)
	}
	if _, err := oidctest.NewBrowser().Login(ctx, ls.AuthURL, oidctest.Username, oidctest.Password); err != nil {
		t.Fatal(err)
	}
	raw, err := a.WaitNotification(ctx, 0, "account/login/completed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw.Params), `"success":true`) {
		t.Fatalf("login completed: %s", raw.Params)
	}
	oidcUpdated := func(p json.RawMessage) bool { return strings.Contains(string(p), `"authMode":"oidc"`) }
	if _, err := b.WaitNotification(ctx, 0, "account/updated", oidcUpdated); err != nil {
		t.Fatal(err)
	}
	var read struct {
		Account *struct {
			Type    string `json:"type"`
			Subject string `json:"subject"`
			Email   string `json:"email"`
		} `json:"account"`
		Provider *struct {
			Name string `json:"name"`
		} `json:"provider"`
		Store struct {
			Location string `json:"location"`
		} `json:"store"`
	}
	if err := b.Call(ctx, "account/read", nil, &read); err != nil {
		t.Fatal(err)
	}
	provFile := filepath.Join(home, "codex-auth", "providers", "corp", "auth.json")
	wantLoc := provFile
	if mode == "keyring" {
		account := "provider|corp|" + strings.TrimPrefix(store.Home{Dir: home}.KeyringAccount(), "cli|")
		wantLoc = "keyring: " + store.ProviderKeyringService + "/" + account
		t.Cleanup(func() { _ = store.SystemKeyring{}.Delete(store.ProviderKeyringService, account) })
	}
	if read.Account == nil || read.Account.Type != "oidc" || read.Account.Subject != oidctest.UserID || read.Provider == nil || read.Provider.Name != "corp" || read.Store.Location != wantLoc {
		t.Errorf("account/read in the other sidecar = %+v", read)
	}
	var ta, tb token
	if err := a.Call(ctx, "account/token", nil, &ta); err != nil {
		t.Fatal(err)
	}
	if err := b.Call(ctx, "account/token", nil, &tb); err != nil {
		t.Fatal(err)
	}
	if ta.Type != "oidc" || ta.AccessToken == "" || ta.AccessToken != tb.AccessToken {
		t.Error("the two sidecars do not serve the provider's one token")
	}
	codexStatus("after the provider's login")
	if _, err := (store.SystemKeyring{}).Get(store.KeyringService, store.Home{Dir: home}.KeyringAccount()); err == nil {
		t.Error("a Codex keyring entry appeared for this home")
	}
	if _, err := os.Stat(provFile); (mode == "file") != (err == nil) {
		t.Errorf("the provider's file in %s mode: %v", mode, err)
	}

	mark := b.Len()
	if err := a.Call(ctx, "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitNotification(ctx, mark, "account/updated", authModeIs("")); err != nil {
		t.Fatal(err)
	}
	if err := b.Call(ctx, "account/token", nil, nil); err == nil {
		t.Error("account/token in the other sidecar after the logout succeeded")
	}
	if _, err := os.Stat(provFile); !os.IsNotExist(err) {
		t.Errorf("the provider's file after logout: %v", err)
	}
	codexStatus("after the provider's logout")
}
