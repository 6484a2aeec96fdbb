package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/store"
)

// loginWith stores a ChatGPT record minted by the fake issuer whose
// access token expires at exp, and loads it into the Manager.
func (e *testEnv) loginWith(t *testing.T, exp time.Time) *store.Record {
	t.Helper()
	e.iss.mu.Lock()
	ts := e.iss.mint()
	e.iss.mu.Unlock()
	ts.AccessToken = testAccessToken(0, exp)
	acc := "ws-1"
	rec := &store.Record{AuthMode: "chatgpt", Tokens: &store.Tokens{
		IDToken: ts.IDToken, AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken, AccountID: &acc,
	}, Extra: []store.RawField{{Key: "agent_identity", Value: []byte(`{"x":1}`)}}}
	if err := e.st.Replace(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestTokenRefresh(t *testing.T) {
	tests := []struct {
		name          string
		expiresIn     time.Duration
		force         bool
		wantRefreshes int
	}{
		{"fresh", time.Hour, false, 0},
		{"within window", 2 * time.Minute, false, 1},
		{"expired", -time.Minute, false, 1},
		{"forced", time.Hour, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, nil)
			old := e.loginWith(t, time.Now().Add(tc.expiresIn))
			tok, err := e.m.Token(t.Context(), tc.force)
			if err != nil {
				t.Fatal(err)
			}
			n, _, _ := e.iss.stats()
			if n != tc.wantRefreshes {
				t.Errorf("issuer refreshes = %d, want %d", n, tc.wantRefreshes)
			}
			saved := e.st.get()
			if tok.AccessToken != saved.Tokens.AccessToken {
				t.Error("the token returned is not the one stored")
			}
			if tc.wantRefreshes == 0 {
				return
			}
			if saved.Tokens.RefreshToken == old.Tokens.RefreshToken || saved.Tokens.AccessToken == old.Tokens.AccessToken {
				t.Error("refresh did not replace the tokens")
			}
			if saved.Tokens.IDToken != old.Tokens.IDToken {
				t.Error("an empty id_token in the answer replaced the stored one")
			}
			if diff := cmp.Diff(old.Extra, saved.Extra); diff != "" {
				t.Errorf("unknown keys lost (-want +got):\n%s", diff)
			}
			if saved.LastRefresh == nil {
				t.Error("last_refresh not set")
			}
		})
	}
}

func TestRefreshOncePerCredential(t *testing.T) {
	e := newTestEnv(t, nil)
	e.loginWith(t, time.Now().Add(time.Minute))
	block := make(chan struct{})
	e.iss.mu.Lock()
	e.iss.block = block
	e.iss.mu.Unlock()
	var wg sync.WaitGroup
	toks := make([]string, 8)
	for i := range toks {
		wg.Go(func() {
			tok, err := e.m.Token(t.Context(), false)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok.AccessToken
		})
	}
	// Wait until one flight is registered, then let the issuer answer.
	for {
		e.m.mu.Lock()
		n := len(e.m.refresh.flights)
		e.m.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing
	}
	close(block)
	wg.Wait()
	if n, reuse, _ := e.iss.stats(); n != 1 || reuse != 0 {
		t.Errorf("refreshes %d, reuse %d; want 1 and 0", n, reuse)
	}
	for _, tok := range toks {
		if tok != toks[0] {
			t.Fatal("callers got different tokens")
		}
	}
}

func TestRefreshAdoptsRotatedByAnotherProcess(t *testing.T) {
	e := newTestEnv(t, nil)
	e.loginWith(t, time.Now().Add(time.Minute))
	// Another process refreshes: the store now holds new tokens that our
	// memory does not know.
	other := e.st.get()
	ts, err := e.iss.Refresh(t.Context(), other.Tokens.RefreshToken, RefreshForced)
	if err != nil {
		t.Fatal(err)
	}
	other.Tokens.AccessToken, other.Tokens.RefreshToken = ts.AccessToken, ts.RefreshToken
	if err := e.st.Replace(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	tok, err := e.m.Token(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != ts.AccessToken {
		t.Error("did not adopt the other process's access token")
	}
	if n, reuse, _ := e.iss.stats(); n != 1 || reuse != 0 {
		t.Errorf("issuer refreshes %d (want 1: the other process's only), reuse detections %d (want 0)", n, reuse)
	}
}

func TestRefreshPermanentFailure(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.loginWith(t, time.Now().Add(time.Minute))
	e.iss.mu.Lock()
	e.iss.fault = &IssuerError{Status: 401, Code: "refresh_token_reused"}
	e.iss.mu.Unlock()
	for i := 0; i < 3; i++ {
		if _, err := e.m.Token(t.Context(), i == 1); !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("call %d: %v, want ErrSessionExpired", i, err)
		}
	}
	want := []any{
		Invalidation{Reason: ReasonRefreshFailed, Message: "the session was ended because its refresh token was used twice (two programs refreshed it at the same time); sign in again"},
		AccountUpdated{AuthMode: "chatgpt", PlanType: "plus", Email: "ada@example.com", WorkspaceID: "ws-1"},
	}
	if diff := cmp.Diff(want, e.rec.all()); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rec, e.st.get()); diff != "" {
		t.Errorf("the record changed (-want +got):\n%s", diff)
	}
	st, _ := e.m.Status(t.Context(), false)
	if st.Account == nil || st.Problem != want[0].(Invalidation).Message {
		t.Errorf("status %+v, want the account with the expired problem", st)
	}
}

func TestRefreshTransientFailureBacksOff(t *testing.T) {
	iss := newFakeIssuer(t, testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"})
	synctest.Test(t, func(t *testing.T) {
		iss.now = time.Now
		e := &testEnv{st: &memStore{}, iss: iss, rec: newRecorder()}
		m, err := New(Options{Store: e.st, Issuer: iss, Editor: e.rec, Headless: func() bool { return true }})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		e.m = m
		e.loginWith(t, time.Now().Add(2*time.Minute)) // within the window, still valid
		iss.mu.Lock()
		iss.fault = &IssuerError{Status: 503}
		iss.fault = errors.Join(ErrIssuerUnavailable)
		iss.mu.Unlock()

		before := e.st.get()
		// Valid access token: the caller gets it despite the failure.
		tok, err := m.Token(t.Context(), false)
		if err != nil || tok.AccessToken != before.Tokens.AccessToken {
			t.Fatalf("Token = %v; want the still-valid token", err)
		}
		// Forced: the typed error, at once.
		if _, err := m.Token(t.Context(), true); !errors.Is(err, ErrIssuerUnavailable) {
			t.Fatalf("forced Token: %v, want ErrIssuerUnavailable", err)
		}
		if diff := cmp.Diff(before, e.st.get()); diff != "" {
			t.Errorf("credentials changed (-want +got):\n%s", diff)
		}
		iss.mu.Lock()
		iss.fault = nil
		iss.mu.Unlock()
		// Still backing off: no call to the issuer.
		if _, err := m.Token(t.Context(), true); !errors.Is(err, ErrIssuerUnavailable) {
			t.Fatalf("during backoff: %v, want ErrIssuerUnavailable", err)
		}
		if n, _, _ := iss.stats(); n != 0 {
			t.Fatalf("issuer called %d times during backoff", n)
		}
		time.Sleep(refreshBackoffMax) // virtual time
		if _, err := m.Token(t.Context(), false); err != nil {
			t.Fatalf("after backoff: %v", err)
		}
		if n, _, _ := iss.stats(); n != 1 {
			t.Errorf("issuer refreshes = %d after backoff, want 1", n)
		}
		if len(e.rec.all()) != 0 {
			t.Errorf("transient failures notified: %v", e.rec.all())
		}
	})
}

func TestRefreshOutlivesRequest(t *testing.T) {
	e := newTestEnv(t, nil)
	e.loginWith(t, time.Now().Add(time.Minute))
	block := make(chan struct{})
	e.iss.mu.Lock()
	e.iss.block = block
	e.iss.mu.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := e.m.Token(ctx, false)
		errc <- err
	}()
	for {
		e.m.mu.Lock()
		n := len(e.m.refresh.flights)
		e.m.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond) // polling a condition, not timing
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller got %v", err)
	}
	close(block)
	tok, err := e.m.Token(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if n, reuse, _ := e.iss.stats(); n != 1 || reuse != 0 {
		t.Errorf("refreshes %d reuse %d, want 1 and 0", n, reuse)
	}
	if tok.AccessToken != e.st.get().Tokens.AccessToken {
		t.Error("token is not the refreshed one")
	}
}

// TestLogoutDoesNotWaitForHungRefresh: a logout cancels a refresh stuck
// at the issuer instead of waiting out its timeout behind the store's
// locks.
func TestLogoutDoesNotWaitForHungRefresh(t *testing.T) {
	iss := newFakeIssuer(t, testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"})
	synctest.Test(t, func(t *testing.T) {
		iss.now = time.Now
		e := &testEnv{st: &memStore{}, iss: iss, rec: newRecorder()}
		m, err := New(Options{Store: e.st, Issuer: iss, Editor: e.rec, Headless: func() bool { return true }, RefreshTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		e.m = m
		e.loginWith(t, time.Now().Add(time.Minute)) // within the window
		iss.mu.Lock()
		iss.block = make(chan struct{}) // never released: a hung issuer
		iss.mu.Unlock()
		tokErr := make(chan error, 1)
		go func() {
			_, err := m.Token(t.Context(), false)
			tokErr <- err
		}()
		synctest.Wait() // the refresh is now stuck at the issuer
		start := time.Now()
		if err := m.Logout(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 0 {
			t.Errorf("logout waited %v of virtual time behind the hung refresh", d)
		}
		if err := <-tokErr; !errors.Is(err, ErrNotLoggedIn) {
			t.Errorf("the token call caught by the logout: %v, want ErrNotLoggedIn", err)
		}
		if e.st.get() != nil {
			t.Error("the record survived the logout")
		}
	})
}

// TestRefreshFailureSaysWhy: expired, used elsewhere and revoked are told
// apart, in the error account/token gives and in refreshFailed.
func TestRefreshFailureSaysWhy(t *testing.T) {
	seen := map[string]string{}
	for _, code := range []string{"refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated"} {
		e := newTestEnv(t, nil)
		e.loginWith(t, time.Now().Add(time.Minute))
		e.iss.mu.Lock()
		e.iss.fault = &IssuerError{Status: 401, Code: code}
		e.iss.mu.Unlock()
		_, err := e.m.Token(t.Context(), false)
		var ee *ExpiredError
		if !errors.As(err, &ee) || !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("%s: %v, want an *ExpiredError that is ErrSessionExpired", code, err)
		}
		inv := ofType[Invalidation](e.rec.all())
		if len(inv) != 1 || inv[0].Message != ee.Error() {
			t.Errorf("%s: invalidations %+v, want one saying %q", code, inv, ee.Error())
		}
		for other, msg := range seen {
			if msg == ee.Error() {
				t.Errorf("%s and %s give the same message %q", code, other, msg)
			}
		}
		seen[code] = ee.Error()
	}
}
