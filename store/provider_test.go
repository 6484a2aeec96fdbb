package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testOIDCRecord(sub string) *Record {
	return NewOIDCRecord(OIDCInfo{
		Provider: "corp", Issuer: "https://id.example.com", ClientID: "app",
		Subject: sub, Email: sub + "@example.com", Name: "Ada",
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}, "idt-"+sub, "at-"+sub, "rt-"+sub)
}

// TestProviderRecordShape: a provider's record is Codex's shape without
// Codex's members (no OPENAI_API_KEY, no account_id), with the provider's
// part under "oidc"; it parses back to the same record.
func TestProviderRecordShape(t *testing.T) {
	rec := testOIDCRecord("u1")
	b, err := rec.MarshalCompact()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"auth_mode":"oidc","tokens":{"id_token":"idt-u1","access_token":"at-u1","refresh_token":"rt-u1"},` +
		`"oidc":{"provider":"corp","issuer":"https://id.example.com","client_id":"app","subject":"u1","email":"u1@example.com","name":"Ada","expires_at":"2030-01-02T03:04:05Z"}}`
	if string(b) != want {
		t.Errorf("compact =\n%s\nwant\n%s", b, want)
	}
	back, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Supported() || back.EffectiveMode() != AuthModeOIDC {
		t.Errorf("parsed back: supported %v, mode %q", back.Supported(), back.EffectiveMode())
	}
	a := back.Account()
	wantA := Account{Mode: AuthModeOIDC, Email: "u1@example.com", Name: "Ada", UserID: "u1", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if diff := cmp.Diff(wantA, a); diff != "" {
		t.Errorf("Account (-want +got):\n%s", diff)
	}
	// SetOIDC replaces, never duplicates.
	info, _ := back.OIDC()
	info.Email = "new@example.com"
	back.SetOIDC(info)
	if n := strings.Count(string(must(back.MarshalCompact())), `"oidc":`); n != 1 {
		t.Errorf("%d oidc members after SetOIDC", n)
	}
	if got, _ := back.OIDC(); got.Email != "new@example.com" {
		t.Errorf("email after SetOIDC = %q", got.Email)
	}
	for _, bad := range []string{
		`{"auth_mode":"oidc","tokens":{"access_token":"a"}}`,
		`{"auth_mode":"oidc","tokens":{"access_token":"a"},"oidc":{"subject":""}}`,
		`{"auth_mode":"oidc","oidc":{"subject":"u"}}`,
		`{"auth_mode":"oidc","tokens":{"access_token":"a"},"oidc":"x"}`,
	} {
		r, err := ParseRecord([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if r.Supported() {
			t.Errorf("%s is supported", bad)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestProviderFileStore: a provider's record goes to
// codex-auth/providers/NAME/auth.json (0600 in 0700 folders), its locks
// beside it, and never to Codex's auth.json.
func TestProviderFileStore(t *testing.T) {
	home := tempHome(t)
	ctx := t.Context()
	codex := openStore(t, home, Options{})
	if err := codex.Replace(ctx, NewAPIKeyRecord("sk-codex-0123456789")); err != nil {
		t.Fatal(err)
	}
	codexBefore, err := os.ReadFile(codex.AuthFile())
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenProvider(home, "corp", Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home.Dir, "codex-auth", "providers", "corp")
	if s.AuthFile() != filepath.Join(dir, "auth.json") || s.Location().Where != s.AuthFile() {
		t.Fatalf("AuthFile = %s, Location = %+v", s.AuthFile(), s.Location())
	}
	if rec, err := s.Load(ctx); rec != nil || err != nil {
		t.Fatalf("Load before any save = %v, %v", rec, err)
	}
	rec := testOIDCRecord("u1")
	if err := s.Replace(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(home.Dir, "codex-auth"), filepath.Join(home.Dir, "codex-auth", "providers"), dir} {
		if m := fileMode(t, d); m.Perm() != 0o700 {
			t.Errorf("%s is %v, want 0700", d, m.Perm())
		}
	}
	if m := fileMode(t, s.AuthFile()); m.Perm() != 0o600 {
		t.Errorf("auth.json is %v, want 0600", m.Perm())
	}
	for _, lock := range []string{"auth.lock", "auth.json.lock"} {
		if _, err := os.Stat(filepath.Join(dir, lock)); err != nil {
			t.Errorf("%s not in the provider's folder: %v", lock, err)
		}
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := must(got.MarshalCompact()), must(rec.MarshalCompact()); string(g) != string(w) {
		t.Errorf("Load = %s, want %s", g, w)
	}
	codexAfter, err := os.ReadFile(codex.AuthFile())
	if err != nil || string(codexAfter) != string(codexBefore) {
		t.Errorf("Codex's auth.json changed by a provider's save (%v)", err)
	}
	if prev, existed, err := s.Take(ctx); !existed || err != nil || prev == nil {
		t.Fatalf("Take = %v, %v, %v", prev, existed, err)
	}
	if _, err := os.Stat(s.AuthFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("provider's auth.json after Take: %v", err)
	}
	if r, err := codex.Load(ctx); err != nil || r == nil || r.EffectiveMode() != AuthModeAPIKey {
		t.Errorf("Codex's record after the provider's logout = %v, %v", r, err)
	}
	// Another provider is another folder.
	o, err := OpenProvider(home, "other", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o.AuthFile() == s.AuthFile() {
		t.Error("two providers share a file")
	}
}

func TestOpenProviderRefusesNames(t *testing.T) {
	home := tempHome(t)
	for _, name := range []string{"", "..", ".hidden", "a/b", `a\b`, "sp ace", strings.Repeat("x", 65)} {
		if _, err := OpenProvider(home, name, Options{}); err == nil {
			t.Errorf("OpenProvider(%q) succeeded", name)
		}
	}
}

// TestProviderKeyringEntry: in keyring mode a provider's record is an
// entry of its own (service codex-auth), never Codex's "Codex Auth" one;
// the Codex CLI still sees its own state.
func TestProviderKeyringEntry(t *testing.T) {
	home := keyringHome(t)
	ctx := t.Context()
	s, err := OpenProvider(home, "corp", Options{Mode: ModeKeyring})
	if err != nil {
		t.Fatal(err)
	}
	account := "provider|corp|" + strings.TrimPrefix(home.KeyringAccount(), "cli|")
	t.Cleanup(func() { _ = SystemKeyring{}.Delete(ProviderKeyringService, account) })
	if want := "keyring: codex-auth/" + account; s.Location().Where != want {
		t.Errorf("location = %q, want %q", s.Location().Where, want)
	}
	rec := testOIDCRecord("u1")
	if err := s.Replace(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := SystemKeyring{}.Get(ProviderKeyringService, account)
	if err != nil {
		t.Fatalf("the provider's entry: %v", err)
	}
	if want := string(must(rec.MarshalCompact())); got != want {
		t.Errorf("entry = %q, want %q", got, want)
	}
	if v := secretToolLookup(t, home.KeyringAccount()); v != "" {
		t.Errorf("Codex's keyring entry written by a provider's save")
	}
	if res := runCodex(t, home, "", "login", "status"); res.Code != 1 {
		t.Errorf("codex login status with only a provider's entry: %+v", res)
	}
	if existed, err := s.Delete(ctx); !existed || err != nil {
		t.Fatalf("Delete = %v, %v", existed, err)
	}
	if _, err := (SystemKeyring{}).Get(ProviderKeyringService, account); !errors.Is(err, ErrKeyringNotFound) {
		t.Errorf("entry after Delete: %v", err)
	}
}

func TestProviderConfig(t *testing.T) {
	sys, home := t.TempDir(), Home{Dir: t.TempDir()}
	managed := filepath.Join(sys, "managed_config.toml")
	user := filepath.Join(home.Dir, "config.toml")
	writeFile(t, managed, `
[codex_auth]
allowed_providers = ["corp", "dev"]
[codex_auth.providers.corp]
kind = "oidc"
issuer = "https://id.corp.example"
client_id = "managed-app"
client_secret_env = "CORP_SECRET"
`)
	writeFile(t, user, `
[codex_auth]
allowed_providers = []
[codex_auth.providers.corp]
kind = "oidc"
issuer = "https://evil.example"
client_id = "mine"
[codex_auth.providers.dev]
kind = "oidc"
issuer = "http://127.0.0.1:8080"
client_id = "dev-app"
client_secret = "s3"
scopes = ["openid", "email"]
audience = "https://api.example"
[codex_auth.providers.home]
kind = "oidc"
issuer = "https://home.example"
client_id = "h"
`)
	cfg, err := LoadConfig(home, sys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ProviderConfig{
		"corp": {Name: "corp", Kind: "oidc", Issuer: "https://id.corp.example", ClientID: "managed-app", ClientSecretEnv: "CORP_SECRET", File: managed},
		"dev":  {Name: "dev", Kind: "oidc", Issuer: "http://127.0.0.1:8080", ClientID: "dev-app", ClientSecret: "s3", Scopes: []string{"openid", "email"}, Audience: "https://api.example", File: user},
		"home": {Name: "home", Kind: "oidc", Issuer: "https://home.example", ClientID: "h", File: user},
	}
	if diff := cmp.Diff(want, cfg.Providers); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"corp", "dev"}, cfg.AllowedProviders); diff != "" {
		t.Errorf("allowed_providers (-want +got):\n%s", diff)
	}
	if p, err := cfg.Provider("corp"); err != nil || p.ClientID != "managed-app" {
		t.Errorf("Provider(corp) = %+v, %v", p, err)
	}
	var pe *ProviderError
	if _, err := cfg.Provider("home"); !errors.As(err, &pe) || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("Provider(home) = %v, want not allowed", err)
	}
	if _, err := cfg.Provider("nope"); !errors.As(err, &pe) || !strings.Contains(err.Error(), "defined: corp, dev, home") {
		t.Errorf("Provider(nope) = %v", err)
	}
	env := map[string]string{"CORP_SECRET": "from-env"}
	if s, err := want["corp"].Secret(func(k string) string { return env[k] }); s != "from-env" || err != nil {
		t.Errorf("Secret = %q, %v", s, err)
	}
	if _, err := want["corp"].Secret(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "CORP_SECRET") {
		t.Errorf("Secret with the variable unset = %v", err)
	}
	if s, _ := want["dev"].Secret(nil); s != "s3" {
		t.Errorf("Secret = %q", s)
	}
	// Without allowed_providers, any defined provider may be chosen.
	if _, err := (Config{Providers: want}).Provider("home"); err != nil {
		t.Errorf("unrestricted Provider(home) = %v", err)
	}
}

func TestProviderConfigErrors(t *testing.T) {
	const ok = "kind = \"oidc\"\nissuer = \"https://id.example\"\nclient_id = \"a\"\n"
	for _, tt := range []struct {
		name, content, key string
	}{
		{"providers type", "[codex_auth]\nproviders = 1\n", "codex_auth.providers"},
		{"provider type", "[codex_auth.providers]\ncorp = 1\n", "codex_auth.providers.corp"},
		{"bad name", "[codex_auth.providers.\"a/b\"]\n" + ok, "codex_auth.providers.a/b"},
		{"no kind", "[codex_auth.providers.corp]\nissuer = \"https://x\"\nclient_id = \"a\"\n", "codex_auth.providers.corp.kind"},
		{"other kind", "[codex_auth.providers.corp]\nkind = \"saml\"\nissuer = \"https://x\"\nclient_id = \"a\"\n", "codex_auth.providers.corp.kind"},
		{"no issuer", "[codex_auth.providers.corp]\nkind = \"oidc\"\nclient_id = \"a\"\n", "codex_auth.providers.corp.issuer"},
		{"no client", "[codex_auth.providers.corp]\nkind = \"oidc\"\nissuer = \"https://x\"\n", "codex_auth.providers.corp.client_id"},
		{"both secrets", "[codex_auth.providers.corp]\n" + ok + "client_secret = \"s\"\nclient_secret_env = \"E\"\n", "codex_auth.providers.corp"},
		{"issuer type", "[codex_auth.providers.corp]\nkind = \"oidc\"\nissuer = 1\nclient_id = \"a\"\n", "codex_auth.providers.corp.issuer"},
		{"scopes type", "[codex_auth.providers.corp]\n" + ok + "scopes = [1]\n", "codex_auth.providers.corp.scopes"},
		{"allowed type", "[codex_auth]\nallowed_providers = 3\n", "codex_auth.allowed_providers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys, home := t.TempDir(), Home{Dir: t.TempDir()}
			path := filepath.Join(home.Dir, "config.toml")
			writeFile(t, path, tt.content)
			_, err := LoadConfig(home, sys)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key != tt.key || ce.File != path {
				t.Fatalf("LoadConfig = %v, want a *ConfigError for key %q", err, tt.key)
			}
		})
	}
}
