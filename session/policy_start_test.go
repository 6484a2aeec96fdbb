package session

import (
	"context"
	"testing"

	"github.com/codex-auth/codex-auth/store"
)

// racyStartStore is a file store where another process stores a record
// right after the Manager read the previous one (the Codex CLI logging
// in, under auth.lock, while the policy is being enforced).
type racyStartStore struct {
	*store.Store
	other *store.Store
	next  *store.Record
}

func (s *racyStartStore) Load(ctx context.Context) (*store.Record, error) {
	rec, err := s.Store.Load(ctx)
	if s.next != nil {
		if rerr := s.other.Replace(ctx, s.next); rerr != nil {
			return nil, rerr
		}
		s.next = nil
	}
	return rec, err
}

// TestStartPolicyKeepsALoginMadeInBetween: at Start, stored credentials
// the policy forbids are logged out only if they are still what is stored
// under the locks; a compliant login stored in between stands, and is
// what the Manager holds. (`login status` enforces the policy this way.)
func TestStartPolicyKeepsALoginMadeInBetween(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	open := func() *store.Store {
		s, err := store.Open(store.Home{Dir: dir}, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := open().Replace(ctx, store.NewAPIKeyRecord("sk-proj-forbidden-aaaaaaaaaaaa")); err != nil {
		t.Fatal(err)
	}
	allowed := &store.Record{AuthMode: store.AuthModeChatGPT, Tokens: &store.Tokens{
		IDToken:      testIDToken(testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"}),
		AccessToken:  "at-allowed",
		RefreshToken: "rt-allowed",
	}}
	rec := newRecorder()
	m, err := New(Options{
		Store:        &racyStartStore{Store: open(), other: open(), next: allowed},
		Config:       store.Config{ForcedLoginMethod: "chatgpt"},
		Issuer:       newFakeIssuer(t, testUser{Email: "ada@example.com"}),
		Editor:       rec,
		DisableWatch: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, inv := range ofType[Invalidation](rec.all()) {
		t.Errorf("Start notified %+v; want the login stored in between to stand", inv)
	}
	held, err := m.Stored()
	if err != nil || held == nil || held.Tokens == nil || held.Tokens.RefreshToken != "rt-allowed" {
		t.Errorf("Stored() = %v, %v; want the record stored in between", held, err)
	}
	stored, err := open().Load(ctx)
	if err != nil || stored == nil || stored.Tokens == nil || stored.Tokens.RefreshToken != "rt-allowed" {
		t.Errorf("stored now: %v, %v; want the login made in between, not deleted", stored, err)
	}
}
