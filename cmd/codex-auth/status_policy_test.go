package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/codex-auth/codex-auth/store"
)

// racyStatusStore is a file store where another process stores a record
// right after the status command read the previous one (the Codex CLI
// logging in, under auth.lock, while we decide).
type racyStatusStore struct {
	*store.Store
	other *store.Store
	next  *store.Record
}

func (s *racyStatusStore) Load(ctx context.Context) (*store.Record, error) {
	rec, err := s.Store.Load(ctx)
	if s.next != nil {
		if rerr := s.other.Replace(ctx, s.next); rerr != nil {
			return nil, rerr
		}
		s.next = nil
	}
	return rec, err
}

func TestStatusPolicyKeepsALoginMadeInBetween(t *testing.T) {
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
	allowed := store.NewAPIKeyRecord("sk-proj-allowed-bbbbbbbbbbbbbb")
	s := &racyStatusStore{Store: open(), other: open(), next: allowed}
	// A policy that forbids only the first key stands in for a login
	// method or workspace policy.
	forbids := func(r *store.Record) error {
		if r != nil && r.APIKey != nil && strings.Contains(*r.APIKey, "forbidden") {
			return errForbidden
		}
		return nil
	}
	rec, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	e := &env{stderr: &stderr}
	rec, code, violated, _ := e.enforce(ctx, s, forbids, rec)
	if violated || code != 0 {
		t.Errorf("enforce = code %d, violated %v; want the login stored in between to stand", code, violated)
	}
	if rec == nil || *rec.APIKey != *allowed.APIKey {
		t.Errorf("enforce returned %v, want the record stored now", rec)
	}
	stored, err := open().Load(ctx)
	if err != nil || stored == nil || *stored.APIKey != *allowed.APIKey {
		t.Errorf("stored now: %v, %v; want the login made in between, not deleted", stored, err)
	}
	if strings.Contains(stderr.String(), "Logging out") {
		t.Errorf("stderr %q: nothing was logged out", stderr.String())
	}
}

var errForbidden = errors.New("API key login is disabled")
