package session

import (
	"context"
	"sync"
	"testing"

	"github.com/codex-auth/codex-auth/store"
)

// loginAfterRead is a file store where another process stores a new
// login right after the next locked read (the read of what to revoke).
type loginAfterRead struct {
	*store.Store
	other *store.Store
	mu    sync.Mutex
	next  *store.Record
}

func (s *loginAfterRead) inject(ctx context.Context) error {
	s.mu.Lock()
	next := s.next
	s.next = nil
	s.mu.Unlock()
	if next == nil {
		return nil
	}
	return s.other.Replace(ctx, next)
}

func (s *loginAfterRead) Update(ctx context.Context, fn func(*store.Record) (*store.Record, error)) (*store.Record, error) {
	r, err := s.Store.Update(ctx, fn)
	if ierr := s.inject(ctx); ierr != nil {
		return nil, ierr
	}
	return r, err
}

func (s *loginAfterRead) Take(ctx context.Context) (*store.Record, bool, error) {
	r, existed, err := s.Store.Take(ctx)
	if ierr := s.inject(ctx); ierr != nil {
		return nil, false, ierr
	}
	return r, existed, err
}

// TestLogoutDeletesWhatItRevokes: a login stored by another process
// while we log out is either the one we revoke and delete, or it
// survives; never deleted while another token is revoked.
func TestLogoutDeletesWhatItRevokes(t *testing.T) {
	dir := t.TempDir()
	iss := newFakeIssuer(t, testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"})
	old := chatgptRecord(followAda, 1)
	mustNoErr(t, fileStore(t, dir).Replace(t.Context(), old))
	newer := chatgptRecord(followBob, 2)
	st := &loginAfterRead{Store: fileStore(t, dir), other: fileStore(t, dir)}
	rec := newRecorder()
	m, err := New(Options{Store: st, Issuer: iss, Editor: rec, DisableWatch: true, Headless: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	mustNoErr(t, m.Start(t.Context()))
	st.mu.Lock()
	st.next = newer
	st.mu.Unlock()
	res, err := m.LogoutAndRevoke(t.Context())
	mustNoErr(t, err)
	if !res.Existed {
		t.Errorf("LogoutAndRevoke = %+v, want Existed", res)
	}
	stored, err := fileStore(t, dir).Load(t.Context())
	mustNoErr(t, err)
	_, _, revoked := iss.stats()
	if stored == nil {
		t.Fatalf("the login stored by another process during the logout was deleted (revoked: %d tokens, the old login's)", len(revoked))
	}
	if stored.Tokens.RefreshToken != newer.Tokens.RefreshToken {
		t.Errorf("stored refresh token %q, want the newer login's", stored.Tokens.RefreshToken)
	}
	for _, r := range revoked {
		if r == newer.Tokens.RefreshToken {
			t.Errorf("the newer login's refresh token was revoked")
		}
	}
}
