package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// secretToolLookup is `secret-tool lookup service "Codex Auth" username
// ACCOUNT`; "" when there is no such item.
func secretToolLookup(t *testing.T, account string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "secret-tool", "lookup", "service", KeyringService, "username", account).Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("secret-tool: %v", err)
	}
	return string(out)
}

// keyringHome is a home whose config.toml puts Codex in keyring mode.
func keyringHome(t *testing.T) Home {
	t.Helper()
	testenv.Keyring(t)
	if _, err := exec.LookPath("secret-tool"); err != nil {
		testenv.Missing(t, "secret-tool not found", "install libsecret-tools")
	}
	home := tempHome(t)
	writeFile(t, filepath.Join(home.Dir, "config.toml"), "cli_auth_credentials_store = \"keyring\"\n")
	return home
}

func TestKeyringWeWriteCodexReads(t *testing.T) {
	home := keyringHome(t)
	ctx := t.Context()
	s := openStore(t, home, Options{Mode: ModeKeyring})
	writeFile(t, s.AuthFile(), `{"OPENAI_API_KEY":"sk-old-file-0123456789"}`)
	rec := NewAPIKeyRecord("sk-keyring-ours-0123456789")
	if err := s.Replace(ctx, rec); err != nil {
		t.Fatal(err)
	}
	want, _ := rec.MarshalCompact()
	if got := secretToolLookup(t, home.KeyringAccount()); got != string(want) {
		t.Errorf("secret-tool lookup = %q, want %q", got, want)
	}
	if _, err := os.Stat(s.AuthFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json left beside the keyring entry: %v", err)
	}
	wantStatus := codexResult{Lines: []string{"API key configured - " + MaskAPIKey(*rec.APIKey), "Authentication is checked when you send a request."}}
	if diff := cmp.Diff(wantStatus, runCodex(t, home, "", "login", "status")); diff != "" {
		t.Errorf("codex login status (-want +got):\n%s", diff)
	}
	if existed, err := s.Delete(ctx); !existed || err != nil {
		t.Fatalf("Delete = %v, %v", existed, err)
	}
	if got := secretToolLookup(t, home.KeyringAccount()); got != "" {
		t.Errorf("entry still there after our Delete")
	}
	if diff := cmp.Diff(codexResult{Lines: []string{"Not logged in"}, Code: 1}, runCodex(t, home, "", "login", "status")); diff != "" {
		t.Errorf("codex login status after our logout (-want +got):\n%s", diff)
	}
}

func TestKeyringCodexWritesWeRead(t *testing.T) {
	home := keyringHome(t)
	ctx := t.Context()
	const key = "sk-keyring-codex-0123456789"
	if res := runCodex(t, home, key, "login", "--with-api-key"); res.Code != 0 {
		t.Fatalf("codex login: %+v", res)
	}
	if got := secretToolLookup(t, home.KeyringAccount()); !strings.Contains(got, key) {
		t.Fatalf("Codex's entry is not under our account name %s", home.KeyringAccount())
	}
	for _, mode := range []Mode{ModeKeyring, ModeAuto} {
		s := openStore(t, home, Options{Mode: mode})
		r, err := s.Load(ctx)
		if err != nil || r == nil || r.APIKey == nil || *r.APIKey != key {
			t.Fatalf("%s Load = %v, %v", mode, r, err)
		}
		if loc := s.Location(); loc.Fallback != "" || !strings.HasPrefix(loc.Where, "keyring: ") {
			t.Errorf("%s Location = %+v", mode, loc)
		}
	}
	if res := runCodex(t, home, "", "logout"); res.Code != 0 {
		t.Fatalf("codex logout: %+v", res)
	}
	s := openStore(t, home, Options{Mode: ModeKeyring})
	if r, err := s.Load(ctx); r != nil || err != nil {
		t.Errorf("Load after codex logout = %v, %v", r, err)
	}
	if got := secretToolLookup(t, home.KeyringAccount()); got != "" {
		t.Errorf("entry still there after codex logout")
	}
}

func TestKeyringLimitWithRealKeyring(t *testing.T) {
	home := keyringHome(t)
	ctx := t.Context()
	big := NewAPIKeyRecord("sk-" + strings.Repeat("x", 3000))
	s := openStore(t, home, Options{Mode: ModeKeyring, KeyringLimit: 2560})
	if err := s.Replace(ctx, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Replace = %v, want ErrTooLarge", err)
	}
	a := openStore(t, home, Options{Mode: ModeAuto, KeyringLimit: 2560})
	if err := a.Replace(ctx, big); err != nil {
		t.Fatal(err)
	}
	if loc := a.Location(); loc.Where != a.AuthFile() || loc.Fallback == "" {
		t.Errorf("Location = %+v, want auth.json with a reason", loc)
	}
	small := NewAPIKeyRecord("sk-small-0123456789")
	if err := a.Replace(ctx, small); err != nil {
		t.Fatal(err)
	}
	if loc := a.Location(); loc.Fallback != "" || !strings.HasPrefix(loc.Where, "keyring: ") {
		t.Errorf("Location after a small save = %+v, want the keyring", loc)
	}
	if _, err := os.Stat(a.AuthFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json left after the keyring save")
	}
	if _, err := a.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}
