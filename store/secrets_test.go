//go:build agesecrets

package store

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/testenv"
)

// secretsStore opens a keyring-mode store with the feature on, and
// removes its passphrase from the keyring when the test ends.
func secretsStore(t *testing.T, home Home, mode Mode) *Store {
	t.Helper()
	testenv.Keyring(t)
	s := openStore(t, home, Options{Mode: mode, SecretAuthStorage: true})
	t.Cleanup(func() { _ = SystemKeyring{}.Delete(SecretsKeyringService, s.kr.(*secretsBackend).account()) })
	return s
}

// decryptFile opens the secrets file with the passphrase in the keyring.
func decryptFile(t *testing.T, s *Store) string {
	t.Helper()
	b := s.kr.(*secretsBackend)
	pw, err := SystemKeyring{}.Get(SecretsKeyringService, b.account())
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.NewScryptIdentity(pw)
	data, err := os.ReadFile(b.path())
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	return string(plain)
}

// encryptFile replaces the secrets file with plain, encrypted at wf.
func encryptFile(t *testing.T, s *Store, plain string, wf int) {
	t.Helper()
	b := s.kr.(*secretsBackend)
	pw, err := SystemKeyring{}.Get(SecretsKeyringService, b.account())
	if err != nil {
		t.Fatal(err)
	}
	rcp, _ := age.NewScryptRecipient(pw)
	rcp.SetWorkFactor(wf)
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, rcp)
	_, _ = io.WriteString(w, plain)
	_ = w.Close()
	if err := writeSecretsFile(b.path(), buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsRoundTrip(t *testing.T) {
	home := tempHome(t)
	s := secretsStore(t, home, ModeKeyring)
	ctx := t.Context()
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-secrets-0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	b := s.kr.(*secretsBackend)
	// No auth.json, no "Codex Auth" item: only the file and its key.
	if _, err := os.Stat(filepath.Join(home.Dir, "auth.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json: %v", err)
	}
	if _, err := (SystemKeyring{}).Get(KeyringService, home.KeyringAccount()); !errors.Is(err, ErrKeyringNotFound) {
		t.Errorf("a Codex Auth item was written: %v", err)
	}
	if m := fileMode(t, b.path()); m != 0o600 {
		t.Errorf("file mode %04o, want 0600", m)
	}
	if m := fileMode(t, filepath.Dir(b.path())); m != 0o700 {
		t.Errorf("folder mode %04o, want 0700", m)
	}
	pw, err := SystemKeyring{}.Get(SecretsKeyringService, b.account())
	if err != nil || len(pw) != 44 {
		t.Errorf("passphrase: %d characters, %v; want 44 (base64 of 32 bytes)", len(pw), err)
	}
	want := `{"version":1,"secrets":{"global/CODEX_AUTH":"{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-secrets-0123456789abcdef\"}"}}`
	if got := decryptFile(t, s); got != want {
		t.Errorf("plaintext:\n got %s\nwant %s", got, want)
	}
	header, _ := os.ReadFile(b.path())
	if !strings.Contains(string(header), "-> scrypt ") || !strings.Contains(string(header), " 10\n") {
		t.Errorf("not an scrypt stanza with work factor 10:\n%q", header[:min(len(header), 120)])
	}

	// Another process: one decryption, then none while the file is
	// unchanged (a poll is a read and a hash).
	other := secretsStore(t, home, ModeKeyring)
	ob := other.kr.(*secretsBackend)
	for range 3 {
		r, err := other.Load(ctx)
		if err != nil || r == nil || *r.APIKey != "sk-secrets-0123456789abcdef" {
			t.Fatalf("Load = %v, %v", r, err)
		}
	}
	if n := ob.decryptions.Load(); n != 1 {
		t.Errorf("decryptions after three loads = %d, want 1", n)
	}
	if err := s.Replace(ctx, NewPersonalAccessTokenRecord("at-secrets-0123456789")); err != nil {
		t.Fatal(err)
	}
	if r, err := other.Load(ctx); err != nil || r.EffectiveMode() != AuthModePersonalAccessToken {
		t.Fatalf("Load after a change = %v, %v", r, err)
	}
	if n := ob.decryptions.Load(); n != 2 {
		t.Errorf("decryptions after a change = %d, want 2", n)
	}
	// The writer itself never decrypts what it wrote.
	if n := b.decryptions.Load(); n != 0 {
		t.Errorf("the writer decrypted %d times", n)
	}
}

func TestSecretsKeepUnknown(t *testing.T) {
	home := tempHome(t)
	s := secretsStore(t, home, ModeAuto)
	ctx := t.Context()
	if err := s.Replace(ctx, NewAPIKeyRecord("sk-first-0123456789")); err != nil {
		t.Fatal(err)
	}
	encryptFile(t, s, `{"version":1,"secrets":{"a/FIRST":"1","global/CODEX_AUTH":"{\"OPENAI_API_KEY\":null,\"personal_access_token\":\"at-x-0123456789\",\"zz\":[1]}","z/LAST":{"n":2}},"future":true}`, 10)
	if _, err := s.Update(ctx, func(cur *Record) (*Record, error) {
		if cur.EffectiveMode() != AuthModePersonalAccessToken {
			t.Errorf("mode %q", cur.EffectiveMode())
		}
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"secrets":{"a/FIRST":"1","global/CODEX_AUTH":"{\"OPENAI_API_KEY\":null,\"personal_access_token\":\"at-x-0123456789\",\"zz\":[1]}","z/LAST":{"n":2}},"future":true}`
	if diff := cmp.Diff(want, decryptFile(t, s)); diff != "" {
		t.Errorf("after a read-modify-write (-want +got):\n%s", diff)
	}
	existed, err := s.Delete(ctx)
	if err != nil || !existed {
		t.Fatalf("Delete = %v, %v", existed, err)
	}
	want = `{"version":1,"secrets":{"a/FIRST":"1","z/LAST":{"n":2}},"future":true}`
	if diff := cmp.Diff(want, decryptFile(t, s)); diff != "" {
		t.Errorf("after logout (-want +got):\n%s", diff)
	}
	if r, err := s.Load(ctx); r != nil || err != nil {
		t.Errorf("Load after logout = %v, %v", r, err)
	}
	if existed, err := s.Delete(ctx); existed || err != nil {
		t.Errorf("second Delete = %v, %v", existed, err)
	}
}

func TestSecretsMissingPassphrase(t *testing.T) {
	home := tempHome(t)
	s := secretsStore(t, home, ModeKeyring)
	if err := s.Replace(t.Context(), NewAPIKeyRecord("sk-lost-0123456789")); err != nil {
		t.Fatal(err)
	}
	if err := (SystemKeyring{}).Delete(SecretsKeyringService, s.kr.(*secretsBackend).account()); err != nil {
		t.Fatal(err)
	}
	other := secretsStore(t, home, ModeKeyring)
	_, err := other.Load(t.Context())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "missing keyring passphrase for the existing encrypted secrets file") {
		t.Errorf("Load = %v, want Codex's missing-passphrase error", err)
	}
	if strings.Contains(err.Error(), "sk-lost") {
		t.Error("the error holds the key")
	}
}

// failingKeyring is a keyring that does not answer (no Secret Service).
type failingKeyring struct{}

var errNoSecretService = errors.New("no secret service provider or dbus session found")

func (failingKeyring) Get(string, string) (string, error) { return "", errNoSecretService }
func (failingKeyring) Set(string, string, string) error   { return errNoSecretService }
func (failingKeyring) Delete(string, string) error        { return errNoSecretService }

func TestSecretsWithoutKeyring(t *testing.T) {
	// As Codex: keyring mode fails the login saying why; auto falls back
	// to auth.json; with no file, status is "not logged in".
	home := tempHome(t)
	ks := openStore(t, home, Options{Mode: ModeKeyring, SecretAuthStorage: true, Keyring: failingKeyring{}})
	if r, err := ks.Load(t.Context()); r != nil || err != nil {
		t.Errorf("Load with nothing stored = %v, %v", r, err)
	}
	err := ks.Replace(t.Context(), NewAPIKeyRecord("sk-nokeyring-0123456789"))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "failed to load secrets key from keyring for secrets|") {
		t.Errorf("keyring mode Replace = %v", err)
	}
	as := openStore(t, home, Options{Mode: ModeAuto, SecretAuthStorage: true, Keyring: failingKeyring{}})
	if err := as.Replace(t.Context(), NewAPIKeyRecord("sk-nokeyring-0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home.Dir, "auth.json")); err != nil {
		t.Errorf("auto mode did not fall back to auth.json: %v", err)
	}
	if loc := as.Location(); loc.Fallback == "" {
		t.Errorf("no fallback reason in %+v", loc)
	}
}
