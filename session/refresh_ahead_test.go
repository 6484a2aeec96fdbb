package session

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// aheadRun runs a Manager with background refresh on a record minted by
// the fake issuer with access tokens of ttl, for d of virtual time,
// calling check on the stored record every step.
func aheadRun(t *testing.T, ttl, d, step time.Duration, check func(rec *store.Record, now time.Time)) (refreshes, reuse int) {
	iss := newFakeIssuer(t, testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"})
	synctest.Test(t, func(t *testing.T) {
		iss.mu.Lock()
		iss.ttl = ttl
		ts := iss.mint()
		iss.mu.Unlock()
		now := time.Now()
		st := &memStore{rec: &store.Record{AuthMode: "chatgpt", LastRefresh: &now, Tokens: &store.Tokens{
			IDToken: ts.IDToken, AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken}}}
		m, err := New(Options{Store: st, Issuer: iss, DisableWatch: true, BackgroundRefresh: true, CallbackPort: AnyCallbackPort})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		for end := now.Add(d); time.Now().Before(end); {
			time.Sleep(step)
			synctest.Wait()
			check(st.get(), time.Now())
		}
		m.Close()
	})
	refreshes, reuse, _ = iss.stats()
	return refreshes, reuse
}

// TestBackgroundRefreshAheadOfCodex: with hour-long tokens the stored
// token never enters Codex's 5-minute window while the sidecar runs, so
// a Codex process finds nothing to refresh; one refresh per token.
func TestBackgroundRefreshAheadOfCodex(t *testing.T) {
	inside := 0
	n, reuse := aheadRun(t, time.Hour, 5*time.Hour, 10*time.Second, func(rec *store.Record, now time.Time) {
		if exp, ok := store.TokenExpiry(rec.Tokens.AccessToken); !ok || exp.Sub(now) <= CodexRefreshWindow {
			inside++
		}
	})
	t.Logf("refreshes %d, reuse %d", n, reuse)
	if inside != 0 {
		t.Errorf("the stored token was inside Codex's refresh window at %d checks, want none", inside)
	}
	if n < 5 || n > 6 || reuse != 0 {
		t.Errorf("refreshes %d, reuse %d over 5 hours of hour-long tokens; want 5 or 6, and 0", n, reuse)
	}
}

// TestBackgroundRefreshShortLived: tokens shorter than the refresh
// window (20 s against 5 minutes) are refreshed when half their life is
// left, never in a loop, and never left to expire.
func TestBackgroundRefreshShortLived(t *testing.T) {
	expired := 0
	n, reuse := aheadRun(t, 20*time.Second, 10*time.Minute, time.Second, func(rec *store.Record, now time.Time) {
		if !unexpired(rec, now) {
			expired++
		}
	})
	t.Logf("refreshes %d, reuse %d", n, reuse)
	if expired != 0 {
		t.Errorf("the stored token had expired at %d checks", expired)
	}
	// One refresh every 10 to 20 s: 30 to 60 in 10 minutes.
	if n < 30 || n > 61 || reuse != 0 {
		t.Errorf("refreshes %d, reuse %d over 10 minutes of 20-second tokens; want 30 to 61, and 0", n, reuse)
	}
}
