package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

const testPAT = "at-test-personal-access-token-0123"

// gatedWhoami is the real account API client, held back until release is
// closed, so a test can tell whether a caller waited for it.
type gatedWhoami struct {
	inner   Whoami
	entered chan struct{}
	release chan struct{}
}

func (g *gatedWhoami) Whoami(ctx context.Context, token string) (AccessTokenInfo, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return AccessTokenInfo{}, ctx.Err()
	}
	return g.inner.Whoami(ctx, token)
}

// withWhoami points the Manager's account API at the local issuer's.
func withWhoami(t *testing.T, cfg store.Config, wrap func(Whoami) Whoami) func(*Options) {
	return func(o *Options) {
		api, err := openai.NewAuthAPI(o.Issuer.Base()+AuthAPIPath, &http.Client{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o.Whoami = api
		if wrap != nil {
			o.Whoami = wrap(api)
		}
		o.Config = cfg
	}
}

var patUser = localissuer.User{Email: "pat@example.com", PlanType: "business", WorkspaceID: "ws-pat"}

func TestAccessTokenLogin(t *testing.T) {
	e := newE2E(t, e2eOptions{issuer: localissuer.Config{Users: []localissuer.User{patUser}}, mutate: withWhoami(t, store.Config{}, nil)})
	if err := e.m.LoginAccessToken(t.Context(), "  "+testPAT+"\n"); err != nil {
		t.Fatalf("LoginAccessToken: %v", err)
	}
	want := AccountUpdated{AuthMode: "personalAccessToken", PlanType: "business", Email: "pat@example.com", WorkspaceID: "ws-pat"}
	if got := ofType[AccountUpdated](e.rec.all()); !cmp.Equal(got, []AccountUpdated{want}) {
		t.Errorf("notifications = %+v, want %+v", got, want)
	}
	// Exactly what `codex login --with-access-token` writes.
	data, err := os.ReadFile(e.other.AuthFile())
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"OPENAI_API_KEY\": null,\n  \"personal_access_token\": \"" + testPAT + "\"\n}"; string(data) != want {
		t.Errorf("auth.json = %s, want %s", data, want)
	}
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Account{Type: "personalAccessToken", Email: "pat@example.com", PlanType: "business", WorkspaceID: "ws-pat"}); !cmp.Equal(st.Account, want) || st.Problem != "" {
		t.Errorf("Status = %+v (problem %q), want %+v", st.Account, st.Problem, want)
	}
	tok, err := e.m.Token(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Type != "personalAccessToken" || tok.AccessToken != testPAT {
		t.Errorf("Token = %s, want the personal access token", tok.Type)
	}
	// Logout removes it; nothing to revoke at the OAuth endpoint.
	if err := e.m.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.other.AuthFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json after logout: %v", err)
	}
	if got := e.srv.Stats().Revocations; got != 0 {
		t.Errorf("revocations = %d, want 0", got)
	}
}

func TestAccessTokenLoginRefused(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		cfg    store.Config
		revoke bool
		check  func(error) bool
		msg    string
	}{
		{"rejected by whoami", testPAT, store.Config{}, true, func(err error) bool {
			var ae *AccessTokenError
			return errors.As(err, &ae) && errors.Is(err, ErrAccessTokenRejected)
		}, "the sign-in server rejected the personal access token (HTTP 401)"},
		{"agent identity", testJWT(map[string]any{"agent_runtime_id": "rt"}), store.Config{}, false, func(err error) bool {
			var ae *AccessTokenError
			return errors.As(err, &ae)
		}, ""},
		{"forced api", testPAT, store.Config{ForcedLoginMethod: "api"}, false, func(err error) bool {
			var pe *PolicyError
			return errors.As(err, &pe)
		}, "Access token login is disabled. Use API key login instead."},
		{"other workspace", testPAT, store.Config{ForcedWorkspaceIDs: []string{"ws-other"}}, false, func(err error) bool {
			var pe *PolicyError
			return errors.As(err, &pe)
		}, "Login is restricted to workspace id(s) ws-other."},
		{"empty", " ", store.Config{}, false, func(err error) bool { return errors.Is(err, ErrInvalidInput) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, e2eOptions{issuer: localissuer.Config{Users: []localissuer.User{patUser}}, mutate: withWhoami(t, tt.cfg, nil)})
			if tt.revoke {
				e.srv.RevokeAccessToken(tt.token)
			}
			err := e.m.LoginAccessToken(t.Context(), tt.token)
			if err == nil || !tt.check(err) {
				t.Fatalf("LoginAccessToken = %v (%T)", err, err)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
			if _, serr := os.Stat(e.other.AuthFile()); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("something was stored: %v", serr)
			}
		})
	}
}

func TestAccessTokenStatusNeverWaits(t *testing.T) {
	gate := &gatedWhoami{entered: make(chan struct{}, 1), release: make(chan struct{})}
	e := newE2E(t, e2eOptions{issuer: localissuer.Config{Users: []localissuer.User{patUser}}, mutate: withWhoami(t, store.Config{}, func(w Whoami) Whoami {
		gate.inner = w
		return gate
	})})
	// Codex (or another process) signs in with a token: the watcher
	// adopts it.
	if err := e.other.Replace(t.Context(), store.NewPersonalAccessTokenRecord(testPAT)); err != nil {
		t.Fatal(err)
	}
	e.rec.waitFor(t, "the adopted token", func(evs []any) bool { return len(ofType[AccountUpdated](evs)) == 1 })
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Account{Type: "personalAccessToken"}); !cmp.Equal(st.Account, want) {
		t.Errorf("Status while whoami is held = %+v, want %+v", st.Account, want)
	}
	<-gate.entered // the account/read above asked for it in the background
	close(gate.release)
	e.rec.waitFor(t, "account/updated with whoami's answer", func(evs []any) bool {
		u := ofType[AccountUpdated](evs)
		return len(u) == 2 && u[1].Email == "pat@example.com" && u[1].WorkspaceID == "ws-pat" && u[1].PlanType == "business"
	})
	st, _ = e.m.Status(t.Context(), false)
	if st.Account == nil || st.Account.Email != "pat@example.com" {
		t.Errorf("Status after whoami = %+v", st.Account)
	}
	// Codex logs out: the sidecar notices.
	if _, err := e.other.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.rec.waitFor(t, "loggedOut", func(evs []any) bool {
		s := ofType[Invalidation](evs)
		return len(s) == 1 && s[0].Reason == ReasonLoggedOut
	})
}

func TestAccessTokenStoredUnderPolicy(t *testing.T) {
	tests := []struct {
		name string
		cfg  store.Config
		msg  string
	}{
		{"forced api hides it", store.Config{ForcedLoginMethod: "api"}, "Access token login is disabled. Use API key login instead."},
		{"other workspace", store.Config{ForcedWorkspaceIDs: []string{"ws-other"}}, "Login is restricted to workspace id(s) ws-other."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := fileStore(t, dir).Replace(t.Context(), store.NewPersonalAccessTokenRecord(testPAT)); err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			e := newE2E(t, e2eOptions{issuer: localissuer.Config{Users: []localissuer.User{patUser}}, mutate: func(o *Options) {
				withWhoami(t, cfg, nil)(o)
				o.Store = fileStore(t, dir)
			}})
			// The token call waits for whoami when a workspace is forced.
			_, err := e.m.Token(t.Context(), false)
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Message != tt.msg {
				t.Fatalf("Token = %v, want the policy error %q", err, tt.msg)
			}
			st, err := e.m.Status(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			if st.Account != nil || st.Problem != tt.msg {
				t.Errorf("Status = %+v, problem %q; want no account and %q", st.Account, st.Problem, tt.msg)
			}
			// As Codex: the record is kept, not logged out.
			if _, err := os.Stat(filepath.Join(dir, "auth.json")); err != nil {
				t.Errorf("the record was removed: %v", err)
			}
			if got := ofType[Invalidation](e.rec.all()); len(got) != 0 {
				t.Errorf("invalidations = %+v, want none", got)
			}
		})
	}
}

func TestAgentIdentityRecord(t *testing.T) {
	dir := t.TempDir()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	jwt := testJWT(map[string]any{"agent_runtime_id": "rt-1", "agent_private_key": "never-shown", "account_id": "ws-agent", "chatgpt_user_id": "user-agent", "email": "agent@example.com", "plan_type": "enterprise", "exp": exp.Unix()})
	if err := fileStore(t, dir).Replace(t.Context(), store.NewAgentIdentityRecord(jwt)); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, e2eOptions{mutate: func(o *Options) { o.Store = fileStore(t, dir) }})
	st, err := e.m.Status(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := &Account{Type: "agentIdentity", Email: "agent@example.com", PlanType: "enterprise", WorkspaceID: "ws-agent", ExpiresAt: exp}
	if diff := cmp.Diff(want, st.Account); diff != "" || st.Problem != "" {
		t.Errorf("Status (-want +got):\n%s\nproblem %q", diff, st.Problem)
	}
	_, err = e.m.Token(t.Context(), false)
	var ue *UnusableRecordError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupportedRecord) {
		t.Fatalf("Token = %v, want an UnusableRecordError", err)
	}
	if err := e.m.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "auth.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("auth.json after logout: %v", err)
	}
}

func TestAccessTokenReadRefreshAsksAgain(t *testing.T) {
	e := newE2E(t, e2eOptions{issuer: localissuer.Config{Users: []localissuer.User{patUser, {Email: "other@example.com", PlanType: "enterprise"}}}, mutate: withWhoami(t, store.Config{}, nil)})
	if err := e.m.LoginAccessToken(t.Context(), testPAT); err != nil {
		t.Fatal(err)
	}
	calls := e.srv.Stats().WhoamiCalls
	// Without refreshToken: from memory, no request.
	if _, err := e.m.Status(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Stats().WhoamiCalls; got != calls {
		t.Errorf("account/read asked whoami %d times", got-calls)
	}
	// With it: asked again and waited for (the plan changed).
	if err := e.srv.SetNextUser("other@example.com"); err != nil {
		t.Fatal(err)
	}
	st, err := e.m.Status(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Account == nil || st.Account.Email != "other@example.com" || st.Account.PlanType != "enterprise" {
		t.Errorf("Status(refresh) = %+v", st.Account)
	}
	// A token revoked since: a problem, not an error.
	e.srv.RevokeAccessToken(testPAT)
	st, err = e.m.Status(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Problem, "rejected the personal access token") {
		t.Errorf("problem %q after a revoke", st.Problem)
	}
}

// failingWhoami counts calls and answers as an unavailable server.
type failingWhoami struct {
	mu    sync.Mutex
	calls int
}

func (f *failingWhoami) Whoami(context.Context, string) (AccessTokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return AccessTokenInfo{}, fmt.Errorf("%w: test", ErrIssuerUnavailable)
}

func (f *failingWhoami) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestAccessTokenWhoamiFailureBacksOff(t *testing.T) {
	var (
		clockMu sync.Mutex
		now     = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	w := &failingWhoami{}
	st := &memStore{}
	if err := st.Replace(t.Context(), store.NewPersonalAccessTokenRecord(testPAT)); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, func(o *Options) { o.Store, o.Whoami, o.Now = st, w, clock })
	<-e.m.accessTokenInfo(testPAT, false) // Start asked once
	for range 5 {
		s, err := e.m.Status(t.Context(), false)
		if err != nil || s.Account == nil || s.Account.Type != "personalAccessToken" {
			t.Fatalf("Status = %+v, %v", s.Account, err)
		}
	}
	if got := w.n(); got != 1 {
		t.Errorf("whoami calls within the retry time = %d, want 1", got)
	}
	advance(whoamiRetry)
	if _, err := e.m.Status(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	<-e.m.accessTokenInfo(testPAT, false)
	if got := w.n(); got != 2 {
		t.Errorf("whoami calls after the retry time = %d, want 2", got)
	}
}
