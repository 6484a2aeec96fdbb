package session

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/store"
)

// fileStore opens a real file store on a fresh home.
func fileStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(store.Home{Dir: dir}, store.Options{Mode: store.ModeFile})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoginAPIKey(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, func(o *Options) { o.Store = fileStore(t, dir) })
	var ie *InputError
	if err := e.m.LoginAPIKey(t.Context(), "  \n"); !errors.As(err, &ie) || ie.Field != "apiKey" {
		t.Errorf("empty key: %v, want an InputError on apiKey", err)
	}
	const key = "sk-proj-abcdefghijklmnopqrstuvwxyz"
	if err := e.m.LoginAPIKey(t.Context(), key+"\n"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.ParseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.NewAPIKeyRecord(key), rec); diff != "" {
		t.Errorf("auth.json (-want +got):\n%s", diff)
	}
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Account{Type: "apiKey", APIKeyHint: "sk-proj-***vwxyz"}, st.Account); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if st.StoreMode != "file" || st.Issuer == "" {
		t.Errorf("status store %q issuer %q", st.StoreMode, st.Issuer)
	}
	tok, err := e.m.Token(t.Context(), true)
	if err != nil || tok != (Token{Type: "apiKey", APIKey: key}) {
		t.Errorf("Token = %v, %v", tok.Type, err)
	}
	if diff := cmp.Diff([]any{AccountUpdated{AuthMode: "apikey"}}, e.rec.all()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	// Logout with nothing to revoke; twice is fine.
	for i := 0; i < 2; i++ {
		if err := e.m.Logout(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "auth.json")); !os.IsNotExist(err) {
		t.Errorf("auth.json still there after logout: %v", err)
	}
}

func TestLoginAPIKeyRefusedByPolicy(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Config = store.Config{ForcedLoginMethod: "chatgpt"} })
	var pe *PolicyError
	if err := e.m.LoginAPIKey(t.Context(), "sk-proj-abcdefghijklmnopqrstuvwxyz"); !errors.As(err, &pe) ||
		pe.Message != "API key login is disabled. Use ChatGPT login instead." {
		t.Errorf("got %v, want Codex's refusal", err)
	}
	if e.st.get() != nil {
		t.Error("a refused key was saved")
	}
}

func TestStatusCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auth.json"), []byte(`{"OPENAI_API_KEY": "sk-secret-tr`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, func(o *Options) { o.Store = fileStore(t, dir) })
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Account != nil || st.Problem == "" {
		t.Errorf("status %+v, want a problem and no account", st)
	}
	var ce *store.CorruptError
	if _, err := e.m.Token(t.Context(), false); !errors.As(err, &ce) {
		t.Errorf("Token: %v, want a CorruptError", err)
	}
}

func TestRefreshAdoptsAcrossStores(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, func(o *Options) { o.Store = fileStore(t, dir) })
	other := fileStore(t, dir) // a second process on the same home

	e.iss.mu.Lock()
	ts := e.iss.mint()
	e.iss.mu.Unlock()
	rec := &store.Record{AuthMode: "chatgpt", Tokens: &store.Tokens{IDToken: ts.IDToken, AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken}}
	if err := other.Replace(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The other process refreshes under the lock.
	rotated, err := other.Update(t.Context(), func(cur *store.Record) (*store.Record, error) {
		ts, err := e.iss.Refresh(t.Context(), cur.Tokens.RefreshToken, RefreshForced)
		if err != nil {
			return nil, err
		}
		cur.Tokens.AccessToken, cur.Tokens.RefreshToken = ts.AccessToken, ts.RefreshToken
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.m.Token(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != rotated.Tokens.AccessToken {
		t.Error("did not adopt the token the other process stored")
	}
	if n, reuse, _ := e.iss.stats(); n != 1 || reuse != 0 {
		t.Errorf("refreshes %d, reuse %d; want 1 (the other's) and 0", n, reuse)
	}
}
