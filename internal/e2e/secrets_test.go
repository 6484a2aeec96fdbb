//go:build agesecrets

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/codex-auth/codex-auth/store"
)

const secretsConfig = "cli_auth_credentials_store = \"keyring\"\n[features]\nsecret_auth_storage = true\n"

// secretsFile reads and writes the decrypted secrets file of home with
// the passphrase Codex keeps in the keyring.
type secretsFile struct {
	t    *testing.T
	home store.Home
}

func (f secretsFile) path() string { return filepath.Join(f.home.Dir, "secrets", "codex_auth.age") }

func (f secretsFile) passphrase() string {
	f.t.Helper()
	acct := "secrets|" + strings.TrimPrefix(f.home.KeyringAccount(), "cli|")
	pw, err := store.SystemKeyring{}.Get(store.SecretsKeyringService, acct)
	if err != nil {
		f.t.Fatalf("the secrets passphrase (%s): %v", acct, err)
	}
	return pw
}

// read decrypts the file into its secrets map.
func (f secretsFile) read() map[string]any {
	f.t.Helper()
	id, _ := age.NewScryptIdentity(f.passphrase())
	data, err := os.ReadFile(f.path())
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		f.t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	var v struct {
		Version int            `json:"version"`
		Secrets map[string]any `json:"secrets"`
	}
	if err := json.Unmarshal(plain, &v); err != nil || v.Version != 1 {
		f.t.Fatalf("the decrypted file is not version 1 secrets: %v", err)
	}
	return v.Secrets
}

// write replaces the file with these secrets (work factor 10).
func (f secretsFile) write(secrets map[string]any) {
	f.t.Helper()
	plain, _ := json.Marshal(map[string]any{"version": 1, "secrets": secrets})
	rcp, _ := age.NewScryptRecipient(f.passphrase())
	rcp.SetWorkFactor(10)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, rcp)
	_, _ = w.Write(plain)
	_ = w.Close()
	if err := e2eutil.WriteAtomic(filepath.Join(f.home.Dir, "secrets"), "codex_auth.age", buf.Bytes()); err != nil {
		f.t.Fatal(err)
	}
}

func TestSecretStorageWithCodex(t *testing.T) {
	start := time.Now()
	ctx := testCtx(t, 4*waitLimit)
	testenv.Codex(t)
	testenv.Keyring(t)
	iss := startIssuer(t, localissuer.Config{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(secretsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	home, err := store.ResolveHome(func(k string) string { return map[string]string{"CODEX_HOME": dir}[k] })
	if err != nil {
		t.Fatal(err)
	}
	sf := secretsFile{t: t, home: home}
	t.Cleanup(func() {
		acct := "secrets|" + strings.TrimPrefix(home.KeyringAccount(), "cli|")
		_ = store.SystemKeyring{}.Delete(store.SecretsKeyringService, acct)
	})
	p := sidecar(t, "sidecar", e2eutil.SidecarEnv(dir, iss.BaseURL()))

	// 1. A Codex API-key login, read by codex-auth (the sidecar notices).
	codexKey := "sk-e2e-codex-" + randomHex(8)
	mark := p.Len()
	if code, out := codexWith(t, dir, codexKey+"\n", nil, "login", "--with-api-key"); code != 0 {
		t.Fatalf("codex login --with-api-key: exit %d, %q", code, redact(out))
	}
	if _, err := os.Stat(filepath.Join(dir, "auth.json")); err == nil {
		t.Fatal("Codex wrote auth.json: the feature is not on")
	}
	if _, err := p.WaitNotification(ctx, mark, "account/updated", authModeIs("apikey")); err != nil {
		t.Fatalf("the sidecar did not see Codex's login: %v", err)
	}
	readStart := time.Now()
	var acct account
	if err := p.Call(ctx, "account/read", nil, &acct); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(readStart); d > time.Second {
		t.Errorf("account/read took %v: it must answer from memory, never decrypt", d)
	}
	if acct.Account == nil || acct.Account.APIKeyHint != store.MaskAPIKey(codexKey) {
		t.Errorf("account/read = %+v", acct.Account)
	}
	if !strings.Contains(acct.Store.Location, "codex_auth.age") {
		t.Errorf("store location %q does not name the secrets file", acct.Store.Location)
	}
	if code, out := ours(t, dir, "", nil, "login", "status"); code != 0 || !strings.Contains(out, "API key configured - "+store.MaskAPIKey(codexKey)) {
		t.Errorf("codex-auth login status: exit %d, %q", code, out)
	}

	// An unknown secret beside the record, kept by everyone from here.
	secrets := sf.read()
	secrets["zz/OTHER"] = "keep-me"
	sf.write(secrets)

	// 2. A codex-auth login, read by Codex.
	ourKey := "sk-e2e-ours-" + randomHex(8)
	loginAPIKey(t, ctx, p, ourKey)
	if m := fileMode(t, sf.path()); m != 0o600 {
		t.Errorf("secrets file mode %04o after our write, want 0600", m)
	}
	if m := fileMode(t, filepath.Dir(sf.path())); m != 0o700 {
		t.Errorf("secrets folder mode %04o after our write, want 0700", m)
	}
	if code, out := codexWith(t, dir, "", nil, "login", "status"); code != 0 || !strings.Contains(out, "API key configured - "+store.MaskAPIKey(ourKey)) {
		t.Errorf("codex login status after our login: exit %d, %q", code, redact(out))
	}
	if got := sf.read()["zz/OTHER"]; got != "keep-me" {
		t.Errorf("after our login the unknown secret is %v", got)
	}

	// 3. codex logout, noticed by the sidecar; the unknown secret stays.
	mark = p.Len()
	if code, out := codexWith(t, dir, "", nil, "logout"); code != 0 || out != "Successfully logged out" {
		t.Fatalf("codex logout: exit %d, %q", code, out)
	}
	if _, err := p.WaitNotification(ctx, mark, "account/sessionInvalidated", reasonIs("loggedOut")); err != nil {
		t.Errorf("after codex logout: %v", err)
	}
	if s := sf.read(); s["zz/OTHER"] != "keep-me" || s["global/CODEX_AUTH"] != nil {
		t.Errorf("after codex logout the secrets are %v", keysOf(s))
	}

	// 4. Our logout, seen by Codex.
	loginAPIKey(t, ctx, p, ourKey)
	if err := p.Call(ctx, "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	if code, out := codexWith(t, dir, "", nil, "login", "status"); code != 1 || out != "Not logged in" {
		t.Errorf("codex login status after our logout: exit %d, %q", code, redact(out))
	}
	if s := sf.read(); s["zz/OTHER"] != "keep-me" || s["global/CODEX_AUTH"] != nil {
		t.Errorf("after our logout the secrets are %v", keysOf(s))
	}
	t.Logf("budget: the whole test took %v (limit 90s)", time.Since(start))
	if d := time.Since(start); d > 90*time.Second {
		t.Errorf("over budget: %v > 90s", d)
	}
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
