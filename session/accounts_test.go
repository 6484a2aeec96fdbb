package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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

// The two ChatGPT users of the saved-account tests.
var (
	savedAda = localissuer.User{Email: "ada@example.com", PlanType: "pro", WorkspaceID: "ws-ada"}
	savedBob = localissuer.User{Email: "bob@example.com", PlanType: "team", WorkspaceID: "ws-bob"}
)

// savedEnv is a home shared by Managers that save accounts (each one a
// process, as far as the locks go), and the local issuer in front of
// which refreshes can be held back.
type savedEnv struct {
	iss  *localissuer.Server
	url  string
	home string

	mu      sync.Mutex
	hold    chan struct{} // non-nil: refreshes wait until it is closed
	arrived chan struct{} // gets a value when a held refresh arrives
	offset  time.Duration // the Managers' clock is this far ahead
}

// now is the Managers' clock: real time (the issuer's tokens expire
// against it), moved ahead by advance so that a forced refresh is not
// satisfied by a token stored a moment ago.
func (e *savedEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.offset)
}

// advance moves the Managers' clock past the coalescing window.
func (e *savedEnv) advance() {
	e.mu.Lock()
	e.offset += 2 * coalesceWindow
	e.mu.Unlock()
}

func newSavedEnv(t *testing.T, cfg localissuer.Config) *savedEnv {
	t.Helper()
	if len(cfg.Users) == 0 {
		cfg.Users = []localissuer.User{savedAda, savedBob}
	}
	cfg.AllowedRedirectPorts = []int{0}
	iss, err := localissuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &savedEnv{iss: iss, home: t.TempDir(), arrived: make(chan struct{}, 16)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" && r.Header.Get("Content-Type") == "application/json" { // refreshes (codes are form posts)
			e.mu.Lock()
			hold := e.hold
			e.mu.Unlock()
			if hold != nil {
				e.arrived <- struct{}{}
				<-hold
			}
		}
		iss.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { iss.Close() })
	e.url = hs.URL
	return e
}

// holdRefreshes makes refreshes wait; the returned func lets them go.
func (e *savedEnv) holdRefreshes() (release func()) {
	ch := make(chan struct{})
	e.mu.Lock()
	e.hold = ch
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		e.hold = nil
		e.mu.Unlock()
		close(ch)
	}
}

// manager is one Manager (a sidecar) on the home, saving accounts.
func (e *savedEnv) manager(t *testing.T, mutate func(*Options)) (*Manager, *recorder) {
	t.Helper()
	st, err := store.Open(store.Home{Dir: e.home}, store.Options{Mode: store.ModeFile, SavedAccounts: true})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := openai.New(openai.Config{Issuer: e.url, HTTP: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	opts := Options{
		Store: st, Saved: st, Issuer: iss, Editor: rec,
		Headless: func() bool { return true }, CallbackPort: AnyCallbackPort,
		LateDelay: time.Nanosecond, Now: e.now,
	}
	if mutate != nil {
		mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, rec
}

// login signs m in as user through the browser flow.
func (e *savedEnv) login(t *testing.T, m *Manager, rec *recorder, user localissuer.User) {
	t.Helper()
	if err := e.iss.SetNextUser(user.Email); err != nil {
		t.Fatal(err)
	}
	bl, err := m.StartBrowserLogin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := browser(t, bl.AuthURL); resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: the browser ended with %d", user.Email, resp.StatusCode)
	}
	evs := rec.waitFor(t, "login of "+user.Email, succeeded(bl.LoginID))
	for _, c := range completed(evs) {
		if c.LoginID == bl.LoginID && !c.Success {
			t.Fatalf("login as %s failed: %s", user.Email, c.Error)
		}
	}
}

// savedCopy reads the saved copy of the account with email (or key hint).
func (e *savedEnv) savedCopy(t *testing.T, l AccountList, email string) *store.Record {
	t.Helper()
	for _, a := range l.Accounts {
		if a.Email == email {
			data, err := os.ReadFile(filepath.Join(e.home, store.SavedDirName, a.SessionID, store.AuthFileName))
			if err != nil {
				t.Fatal(err)
			}
			r, err := store.ParseRecord(data)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("no saved account %s in %+v", email, l.Accounts)
	return nil
}

func accountsOf(t *testing.T, m *Manager) AccountList {
	t.Helper()
	l, err := m.Accounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func emails(l AccountList) (active string, all []string) {
	for _, a := range l.Accounts {
		name := a.Email
		if a.Type == AccountAPIKey {
			name = a.APIKeyHint
		}
		all = append(all, name)
		if a.SessionID == l.ActiveID {
			active = name
		}
	}
	return active, all
}

func TestAccountsSwitchInPlace(t *testing.T) {
	e := newSavedEnv(t, localissuer.Config{})
	m, rec := e.manager(t, nil)
	e.login(t, m, rec, savedAda)
	e.login(t, m, rec, savedBob)
	const key = "sk-proj-saved-key-0123456789vwxyz"
	if err := m.LoginAPIKey(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	l := accountsOf(t, m)
	active, all := emails(l)
	if diff := cmp.Diff([]string{store.MaskAPIKey(key), "bob@example.com", "ada@example.com"}, all); diff != "" || active != store.MaskAPIKey(key) {
		t.Fatalf("saved after three logins, newest first (-want +got):\n%s\nactive %q", diff, active)
	}
	for _, a := range l.Accounts {
		if !store.ValidSessionID(a.SessionID) || a.LastUsedAt.IsZero() || a.Forbidden != "" || a.NeedsLogin {
			t.Errorf("saved account %+v", a)
		}
		if a.Type == AccountChatGPT && (len(a.Workspaces) != 1 || a.Workspaces[0].AccountID != a.SelectedWorkspaceID || a.PlanType == "") {
			t.Errorf("ChatGPT account %s: workspaces %+v, selected %q, plan %q", a.Email, a.Workspaces, a.SelectedWorkspaceID, a.PlanType)
		}
	}

	mark := len(rec.all())
	l, err := m.SwitchAccount(t.Context(), "ADA@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if active, _ := emails(l); active != "ada@example.com" {
		t.Errorf("after switching to ada: active %q", active)
	}
	wantNotes := []any{
		Invalidation{Reason: ReasonAccountChanged, Message: switchedMessage},
		AccountUpdated{AuthMode: store.AuthModeChatGPT, PlanType: "pro", Email: "ada@example.com", WorkspaceID: "ws-ada"},
		l, // accountSession/updated: the list the switch returned
	}
	if diff := cmp.Diff(wantNotes, rec.all()[mark:]); diff != "" {
		t.Errorf("notifications of the switch (-want +got):\n%s", diff)
	}
	other, err := store.Open(store.Home{Dir: e.home}, store.Options{Mode: store.ModeFile})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := other.Load(t.Context())
	if err != nil || cur.Account().Email != "ada@example.com" {
		t.Fatalf("auth.json after the switch: %v (%v), want ada's record", cur.Account().Email, err)
	}
	tok, err := m.Token(t.Context(), false)
	if err != nil || tok.AccessToken != cur.Tokens.AccessToken {
		t.Errorf("account/token after the switch is not ada's stored token (%v)", err)
	}
	// The key's copy is the key; switching to the active account is a no-op.
	if got := e.savedCopy(t, l, ""); got.APIKey == nil || *got.APIKey != key {
		t.Errorf("the API key's saved copy does not hold the key")
	}
	mark = len(rec.all())
	if _, err := m.SwitchAccount(t.Context(), l.ActiveID); err != nil {
		t.Fatal(err)
	}
	if evs := rec.all()[mark:]; len(evs) != 0 {
		t.Errorf("switching to the active account notified %v", evs)
	}

	// A token for bob while ada is active, forced: bob's copy is refreshed,
	// ada's record is not touched.
	e.advance()
	before := e.iss.Stats().Refreshes
	bobTok, err := m.AccountToken(t.Context(), "bob@example.com", true)
	if err != nil {
		t.Fatal(err)
	}
	l = accountsOf(t, m)
	bobCopy := e.savedCopy(t, l, "bob@example.com")
	if bobTok.Type != AccountChatGPT || bobTok.AccountID != "ws-bob" || bobTok.AccessToken != bobCopy.Tokens.AccessToken {
		t.Errorf("bob's token (type %s, workspace %s) is not his refreshed saved copy's", bobTok.Type, bobTok.AccountID)
	}
	if got := e.iss.Stats().Refreshes; got != before+1 {
		t.Errorf("issuer refreshes %d -> %d, want one for bob's forced token", before, got)
	}
	if now, _ := other.Load(t.Context()); !cmp.Equal(now.Tokens, cur.Tokens) {
		t.Error("a token for a saved account changed the active record")
	}
	// A second forced refresh within seconds is satisfied without one.
	if _, err := m.AccountToken(t.Context(), "bob@example.com", true); err != nil {
		t.Fatal(err)
	}
	if got := e.iss.Stats().Refreshes; got != before+1 {
		t.Errorf("a forced refresh right after one redeemed again (%d refreshes)", got-before)
	}

	// Switch to bob: his newest tokens become auth.json.
	if _, err := m.SwitchAccount(t.Context(), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	cur, _ = other.Load(t.Context())
	if cur.Tokens.RefreshToken != bobCopy.Tokens.RefreshToken {
		t.Error("switching to bob did not activate his refreshed tokens")
	}
	e.advance()
	if _, err := m.Token(t.Context(), true); err != nil {
		t.Fatalf("a forced refresh of bob once active: %v", err)
	}
	l = accountsOf(t, m)
	cur, _ = other.Load(t.Context())
	if got := e.savedCopy(t, l, "bob@example.com"); got.Tokens.RefreshToken != cur.Tokens.RefreshToken {
		t.Error("the active account's saved copy does not mirror its refresh")
	}
	if st := e.iss.Stats(); st.ReuseDetections != 0 || st.Revocations != 0 {
		t.Errorf("issuer: %d reuse detections, %d revocations; want none", st.ReuseDetections, st.Revocations)
	}

	if _, err := m.SwitchAccount(t.Context(), "nobody@example.com"); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("switch to an unknown email: %v, want ErrUnknownAccount", err)
	}
}

func TestAccountsNeedsLoginAndPolicy(t *testing.T) {
	e := newSavedEnv(t, localissuer.Config{})
	m, rec := e.manager(t, nil)
	e.login(t, m, rec, savedBob)
	bobRT := func() string {
		return e.savedCopy(t, accountsOf(t, m), "bob@example.com").Tokens.RefreshToken
	}()
	e.login(t, m, rec, savedAda)
	if err := e.iss.RevokeFamily(bobRT); err != nil {
		t.Fatal(err)
	}
	e.advance()
	if _, err := m.AccountToken(t.Context(), "bob@example.com", true); !errors.Is(err, ErrNeedsLogin) || !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("a forced token for bob, revoked: %v, want ErrNeedsLogin", err)
	}
	for _, a := range accountsOf(t, m).Accounts {
		if (a.Email == "bob@example.com") != a.NeedsLogin {
			t.Errorf("%s: needsLogin %v", a.Email, a.NeedsLogin)
		}
	}
	if _, err := m.SwitchAccount(t.Context(), "bob@example.com"); !errors.Is(err, ErrNeedsLogin) {
		t.Errorf("switch to bob, who needs a login: %v", err)
	}
	// Signing in as bob again clears it.
	e.login(t, m, rec, savedBob)
	for _, a := range accountsOf(t, m).Accounts {
		if a.NeedsLogin {
			t.Errorf("%s still needs a login after signing in again", a.Email)
		}
	}

	// A policy that forbids API keys: the saved key stays, marked, and
	// cannot be activated.
	if err := m.LoginAPIKey(t.Context(), "sk-proj-policy-key-0123456789"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SwitchAccount(t.Context(), "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.cfg.ForcedLoginMethod = string(LoginMethodChatGPT)
	m.mu.Unlock()
	l := accountsOf(t, m)
	for _, a := range l.Accounts {
		want := ""
		if a.Type == AccountAPIKey {
			want = "API key login is disabled. Use ChatGPT login instead."
		}
		if a.Forbidden != want {
			t.Errorf("%s %s: forbidden %q, want %q", a.Type, a.Email, a.Forbidden, want)
		}
	}
	var pe *PolicyError
	for _, a := range l.Accounts {
		if a.Type == AccountAPIKey {
			if _, err := m.SwitchAccount(t.Context(), a.SessionID); !errors.As(err, &pe) {
				t.Errorf("switch to a forbidden key: %v, want a PolicyError", err)
			}
			if _, err := m.AccountToken(t.Context(), a.SessionID, false); !errors.As(err, &pe) {
				t.Errorf("token of a forbidden key: %v, want a PolicyError", err)
			}
		}
	}
	if len(l.Accounts) != 3 {
		t.Errorf("saved under the policy: %d, want the 3 kept", len(l.Accounts))
	}
}

func TestAccountsLogoutAndForget(t *testing.T) {
	e := newSavedEnv(t, localissuer.Config{})
	m, rec := e.manager(t, nil)
	e.login(t, m, rec, savedAda)
	if err := m.LoginAPIKey(t.Context(), "sk-proj-forget-me-0123456789"); err != nil {
		t.Fatal(err)
	}
	e.login(t, m, rec, savedBob)

	res, err := m.LogoutAccountAndRevoke(t.Context(), "ada@example.com")
	if err != nil || !res.Existed || !res.Revoked {
		t.Fatalf("LogoutAccountAndRevoke(ada) = %+v, %v; want removed and revoked", res, err)
	}
	if got := e.iss.Stats().Revocations; got != 1 {
		t.Errorf("revocations after logging out a saved account: %d, want 1", got)
	}
	l := accountsOf(t, m)
	if active, all := emails(l); active != "bob@example.com" || len(all) != 2 {
		t.Errorf("after logging ada out: active %q, saved %v", active, all)
	}

	var ie *InputError
	if _, err := m.ForgetAccount(t.Context(), l.ActiveID); !errors.As(err, &ie) || ie.Field != "sessionId" {
		t.Errorf("forget the active account: %v, want an InputError on sessionId", err)
	}
	var keyID string
	for _, a := range l.Accounts {
		if a.Type == AccountAPIKey {
			keyID = a.SessionID
		}
	}
	if l, err = m.ForgetAccount(t.Context(), keyID); err != nil || len(l.Accounts) != 1 || e.iss.Stats().Revocations != 1 {
		t.Errorf("forget the key: %d left (%v), want bob only", len(l.Accounts), err)
	}
	l, err = m.LogoutAccount(t.Context(), l.ActiveID)
	if err != nil || l.ActiveID != "" || len(l.Accounts) != 0 {
		t.Errorf("log the active account out: active %q, %d saved (%v); want none", l.ActiveID, len(l.Accounts), err)
	}
	if st, _ := m.Status(t.Context(), false); st.Account != nil {
		t.Error("still logged in after logging the active saved account out")
	}
}

// TestAccountsFollowOtherPrograms: a login and a logout made by another
// program (the Codex CLI writes auth.json without knowing of saved
// accounts) are mirrored by the watcher: the login is saved, the logout
// removes the active account's copy and leaves the others.
func TestAccountsFollowOtherPrograms(t *testing.T) {
	e := newSavedEnv(t, localissuer.Config{})
	m, rec := e.manager(t, nil)
	e.login(t, m, rec, savedAda)
	codex, err := store.Open(store.Home{Dir: e.home}, store.Options{Mode: store.ModeFile})
	if err != nil {
		t.Fatal(err)
	}
	// A refresh of the Codex CLI (it writes auth.json, knowing nothing of
	// saved accounts) is mirrored into the active account's copy. Same
	// account: no notification; the watcher's adoption is heard instead.
	adopted := make(chan verdict, 16)
	m.evMu.Lock()
	m.traceAdopt = func(v verdict) {
		select {
		case adopted <- v:
		default:
		}
	}
	m.evMu.Unlock()
	refreshed, err := codex.Update(t.Context(), func(cur *store.Record) (*store.Record, error) {
		cur.Tokens.RefreshToken = "rt-rotated-by-codex"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for v := openaiGuard(t, "the watcher's adoption", adopted); !v.Refreshed; v = openaiGuard(t, "the watcher's adoption", adopted) {
	}
	if got := e.savedCopy(t, accountsOf(t, m), "ada@example.com").Tokens.RefreshToken; got != refreshed.Tokens.RefreshToken {
		t.Error("the Codex CLI's refresh was not mirrored into ada's saved copy")
	}
	const key = "sk-proj-codex-login-0123456789"
	if err := codex.Replace(t.Context(), store.NewAPIKeyRecord(key)); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the Codex login seen", func(evs []any) bool {
		u, ok := evs[len(evs)-1].(AccountUpdated)
		return ok && u.AuthMode == store.AuthModeAPIKey
	})
	l := accountsOf(t, m)
	if active, all := emails(l); active != store.MaskAPIKey(key) || len(all) != 2 {
		t.Fatalf("after the Codex CLI's login: active %q, saved %v", active, all)
	}
	if _, err := codex.Delete(t.Context()); err != nil { // codex logout
		t.Fatal(err)
	}
	rec.waitFor(t, "the Codex logout seen", func(evs []any) bool {
		u, ok := evs[len(evs)-1].(AccountUpdated)
		return ok && u.AuthMode == ""
	})
	l = accountsOf(t, m)
	if active, all := emails(l); active != "" || !cmp.Equal(all, []string{"ada@example.com"}) {
		t.Errorf("after the Codex CLI's logout: active %q, saved %v; want ada only", active, all)
	}
}

// TestAccountsSwitchRacesRefresh: one sidecar refreshes the active
// account while another switches away from it; the refreshed tokens end
// in the right saved account, whichever takes auth.lock first.
func TestAccountsSwitchRacesRefresh(t *testing.T) {
	e := newSavedEnv(t, localissuer.Config{})
	a, recA := e.manager(t, nil)
	e.login(t, a, recA, savedBob)
	e.login(t, a, recA, savedAda)
	b, _ := e.manager(t, func(o *Options) { o.DisableWatch = true })
	e.advance()

	release := e.holdRefreshes()
	refreshed := make(chan error, 1)
	go func() {
		_, err := a.Token(context.Background(), true)
		refreshed <- err
	}()
	openaiGuard(t, "the refresh at the issuer", e.arrived) // a holds the locks now
	switched := make(chan error, 1)
	go func() {
		_, err := b.SwitchAccount(context.Background(), "bob@example.com")
		switched <- err
	}()
	release()
	if err := openaiGuard(t, "the refresh", refreshed); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := openaiGuard(t, "the switch", switched); err != nil {
		t.Fatalf("switch: %v", err)
	}
	l := accountsOf(t, b)
	if active, _ := emails(l); active != "bob@example.com" {
		t.Errorf("after the switch: active %q, want bob", active)
	}
	adaCopy := e.savedCopy(t, l, "ada@example.com")
	// Ada's copy holds the refresh's tokens: redeeming it works.
	e.advance()
	before := e.iss.Stats().Refreshes
	if _, err := b.AccountToken(t.Context(), "ada@example.com", true); err != nil {
		t.Fatalf("refreshing ada's saved copy after the race: %v", err)
	}
	if st := e.iss.Stats(); st.ReuseDetections != 0 || st.TokenErrors != 0 || st.Refreshes != before+1 {
		t.Errorf("issuer: %d reuse detections, %d token errors, %d refreshes of ada's copy; want none, none, one", st.ReuseDetections, st.TokenErrors, st.Refreshes-before)
	}
	if strings.Contains(adaCopy.Tokens.RefreshToken, "bob") {
		t.Error("ada's copy holds bob's token")
	}
}

// TestAccountsUpdatedElsewhere: a sidecar hears accountSession/updated
// when another forgets an inactive account, which changes only the index
// (no account/updated), with the list after it; a use of an inactive
// account (lastUsedAt alone) sends nothing. The accounts are saved before
// the sidecars start, so that nothing but the index changes while they
// run.
func TestAccountsUpdatedElsewhere(t *testing.T) {
	e := newSavedEnv(t, localissuer.Config{})
	first, firstRec := e.manager(t, nil)
	e.login(t, first, firstRec, savedAda)
	e.login(t, first, firstRec, savedBob)
	l := accountsOf(t, first)
	first.Close()
	var adaID string
	for _, a := range l.Accounts {
		if a.Email == savedAda.Email {
			adaID = a.SessionID
		}
	}
	if adaID == "" || l.ActiveID == adaID {
		t.Fatalf("ada is not saved, or active: %+v", l)
	}
	_, rec := e.manager(t, nil)
	other, otherRec := e.manager(t, nil)
	lists := func(evs []any) []AccountList { return ofType[AccountList](evs) }

	// A use elsewhere moves lastUsedAt only; then the forget.
	if _, err := other.AccountToken(t.Context(), adaID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ForgetAccount(t.Context(), adaID); err != nil {
		t.Fatal(err)
	}
	evs := rec.waitFor(t, "the list without ada", func(evs []any) bool { return len(lists(evs)) > 0 })
	got := lists(evs)
	if len(got) != 1 || len(evs) != 1 {
		t.Fatalf("heard %#v after a use and a forget elsewhere, want one accountSession/updated (the forget)", evs)
	}
	if _, all := emails(got[0]); len(all) != 1 || all[0] != savedBob.Email || got[0].ActiveID != l.ActiveID {
		t.Errorf("the list heard: active %q, %v; want bob only, active", got[0].ActiveID, all)
	}
	// The sidecar that forgot it heard it too.
	otherRec.waitFor(t, "the forgetting sidecar's list", func(evs []any) bool {
		got := lists(evs)
		return len(got) == 1 && len(got[0].Accounts) == 1
	})
}

// TestListKey: what an account list shows, without lastUsedAt (a use
// only reorders the list).
func TestListKey(t *testing.T) {
	ada := SavedAccount{SessionID: "a", Type: AccountChatGPT, Email: "ada@example.com", LastUsedAt: time.Unix(100, 0)}
	bob := SavedAccount{SessionID: "b", Type: AccountAPIKey, APIKeyHint: "sk-***bcdef", LastUsedAt: time.Unix(200, 0)}
	base := listKey(AccountList{ActiveID: "b", Accounts: []SavedAccount{bob, ada}})
	used := ada
	used.LastUsedAt = time.Unix(300, 0)
	if got := listKey(AccountList{ActiveID: "b", Accounts: []SavedAccount{used, bob}}); got != base {
		t.Error("a use (lastUsedAt, and the order it gives) changed the key")
	}
	needs := ada
	needs.NeedsLogin = true
	forbidden := ada
	forbidden.Forbidden = "not allowed"
	for name, l := range map[string]AccountList{
		"another active": {ActiveID: "a", Accounts: []SavedAccount{bob, ada}},
		"one forgotten":  {ActiveID: "b", Accounts: []SavedAccount{bob}},
		"needs a login":  {ActiveID: "b", Accounts: []SavedAccount{bob, needs}},
		"forbidden":      {ActiveID: "b", Accounts: []SavedAccount{bob, forbidden}},
		"a problem":      {ActiveID: "b", Accounts: []SavedAccount{bob, ada}, Problems: []string{"corrupt"}},
	} {
		if listKey(l) == base {
			t.Errorf("%s: the key did not change", name)
		}
	}
}
