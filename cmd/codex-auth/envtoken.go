package main

import (
	"context"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// envTokenStore serves the access token from the environment as the
// record, whatever is stored, as Codex does; logins and logouts still
// write and remove the stored record (Codex's do too), which the
// environment's token then stands in front of.
type envTokenStore struct {
	inner *store.Store
	rec   *store.Record
}

var _ session.Store = (*envTokenStore)(nil)

func (s *envTokenStore) Load(context.Context) (*store.Record, error) { return s.rec.Clone(), nil }

// Update shows fn the environment's record; it never changes (an access
// token is not refreshed), so nothing is written.
func (s *envTokenStore) Update(_ context.Context, fn func(*store.Record) (*store.Record, error)) (*store.Record, error) {
	if _, err := fn(s.rec.Clone()); err != nil {
		return nil, err
	}
	return s.rec.Clone(), nil
}

func (s *envTokenStore) Replace(ctx context.Context, r *store.Record) error {
	return s.inner.Replace(ctx, r)
}

// DeleteIf deletes the stored record when match holds for it; what the
// caller sees afterwards is still the environment's record.
func (s *envTokenStore) DeleteIf(ctx context.Context, match func(cur *store.Record) bool) (bool, *store.Record, error) {
	deleted, _, err := s.inner.DeleteIf(ctx, match)
	return deleted, s.rec.Clone(), err
}

// Take removes the stored record (a logout); the environment's token
// stands in front of the empty store afterwards, as in Codex.
func (s *envTokenStore) Take(ctx context.Context) (*store.Record, bool, error) {
	return s.inner.Take(ctx)
}

// Location names the environment variable; the mode is the store's.
func (s *envTokenStore) Location() store.Location {
	return store.Location{Mode: s.inner.Mode(), Where: "environment: " + envAccessToken}
}

func (s *envTokenStore) AuthFile() string { return s.inner.AuthFile() }
