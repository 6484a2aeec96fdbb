package session

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/codex-auth/codex-auth/store"
)

// adopted is the marker the tests' traceAdopt hook records: the watcher
// handled a change, and sent its notifications before this.
type adopted struct{ v verdict }

// followEnv is a watching Manager and a second process on one home.
type followEnv struct {
	m     *Manager
	rec   *recorder
	home  store.Home
	other *store.Store
	iss   *fakeIssuer
}

// newFollow starts a watching Manager on a fresh home; setup runs before
// Start (a record, a config file).
func newFollow(t *testing.T, setup func(f *followEnv), mutate func(*Options)) *followEnv {
	t.Helper()
	dir, sys := t.TempDir(), t.TempDir()
	f := &followEnv{
		rec:  newRecorder(),
		home: store.Home{Dir: dir},
		iss:  newFakeIssuer(t, testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"}),
	}
	f.other = fileStore(t, dir)
	if setup != nil {
		setup(f)
	}
	opts := Options{
		Store:        fileStore(t, dir),
		Issuer:       f.iss,
		Editor:       f.rec,
		Headless:     func() bool { return true },
		CallbackPort: AnyCallbackPort,
		ConfigReload: func() (store.Config, error) { return store.LoadConfig(f.home, sys) },
		ConfigFiles:  store.ConfigPaths(f.home, sys),
	}
	if mutate != nil {
		mutate(&opts)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	m.traceAdopt = func(v verdict) { f.rec.notify(adopted{v}) }
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	f.m = m
	return f
}

// since waits until a notification matching stop arrives after the first
// n, and returns the notifications after the first n, markers dropped.
func (f *followEnv) since(t *testing.T, n int, what string, stop func(any) bool) []any {
	t.Helper()
	evs := f.rec.waitFor(t, what, func(evs []any) bool {
		for _, e := range evs[min(n, len(evs)):] {
			if stop(e) {
				return true
			}
		}
		return false
	})
	var out []any
	for _, e := range evs[n:] {
		if _, ok := e.(adopted); !ok {
			out = append(out, e)
		}
	}
	return out
}

func isUpdated(e any) bool     { _, ok := e.(AccountUpdated); return ok }
func isInvalidated(e any) bool { _, ok := e.(Invalidation); return ok }
func isAdopted(e any) bool     { _, ok := e.(adopted); return ok }

// chatgptRecord is a ChatGPT record for u with tokens numbered n.
func chatgptRecord(u testUser, n int) *store.Record {
	acc := u.Workspace
	return &store.Record{AuthMode: store.AuthModeChatGPT, Tokens: &store.Tokens{
		IDToken:      testIDToken(u),
		AccessToken:  testAccessToken(n, time.Now().Add(time.Hour)),
		RefreshToken: "rt-other-" + string(rune('a'+n)),
		AccountID:    &acc,
	}}
}

var (
	followAda = testUser{Email: "ada@example.com", Plan: "plus", Workspace: "ws-1"}
	followBob = testUser{Email: "bob@example.com", Plan: "pro", Workspace: "ws-2"}
)

// TestFollowAnotherProcess: every kind of change another process makes to
// auth.json reaches the editor as the right notification.
func TestFollowAnotherProcess(t *testing.T) {
	f := newFollow(t, nil, nil)
	ctx := t.Context()
	const keyA, keyB = "sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa", "sk-proj-bbbbbbbbbbbbbbbbbbbbbbbb"
	steps := []struct {
		name   string
		change func(t *testing.T)
		want   []any
	}{
		{"login from logged out", func(t *testing.T) {
			mustNoErr(t, f.other.Replace(ctx, store.NewAPIKeyRecord(keyA)))
		}, []any{AccountUpdated{AuthMode: "apikey"}}},
		{"another API key", func(t *testing.T) {
			mustNoErr(t, f.other.Replace(ctx, store.NewAPIKeyRecord(keyB)))
		}, []any{Invalidation{Reason: ReasonAccountChanged, Message: classifyMsgAccountChanged}, AccountUpdated{AuthMode: "apikey"}}},
		{"logout", func(t *testing.T) {
			_, err := f.other.Delete(ctx)
			mustNoErr(t, err)
		}, []any{Invalidation{Reason: ReasonLoggedOut, Message: classifyMsgLoggedOut}, AccountUpdated{}}},
		{"ChatGPT login", func(t *testing.T) {
			mustNoErr(t, f.other.Replace(ctx, chatgptRecord(followAda, 1)))
		}, []any{AccountUpdated{AuthMode: "chatgpt", PlanType: "plus", Email: "ada@example.com", WorkspaceID: "ws-1"}}},
		{"tokens refreshed", func(t *testing.T) {
			_, err := f.other.Update(ctx, func(cur *store.Record) (*store.Record, error) {
				next := chatgptRecord(followAda, 2)
				next.Extra = cur.Extra
				return next, nil
			})
			mustNoErr(t, err)
		}, nil},
		{"another account", func(t *testing.T) {
			mustNoErr(t, f.other.Replace(ctx, chatgptRecord(followBob, 3)))
		}, []any{Invalidation{Reason: ReasonAccountChanged, Message: classifyMsgAccountChanged},
			AccountUpdated{AuthMode: "chatgpt", PlanType: "pro", Email: "bob@example.com", WorkspaceID: "ws-2"}}},
	}
	for _, s := range steps {
		n := len(f.rec.all())
		s.change(t)
		got := f.since(t, n, s.name, isAdopted)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: notifications (-want +got):\n%s", s.name, diff)
		}
	}

	// The refreshed tokens were adopted: Token serves the other process's.
	stored, err := f.other.Load(ctx)
	mustNoErr(t, err)
	tok, err := f.m.Token(ctx, false)
	if err != nil || tok.AccessToken != stored.Tokens.AccessToken {
		t.Errorf("Token after the changes: %v; serves the stored access token: %v", err, tok.AccessToken == stored.Tokens.AccessToken)
	}

	// A corrupt file is reported, not taken for a logout.
	n := len(f.rec.all())
	// Written atomically: an in-place write can be seen half done (empty,
	// then "{not json"), two corruptions and two notifications.
	tmp := filepath.Join(f.home.Dir, ".auth-corrupt")
	if err := os.WriteFile(tmp, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(f.home.Dir, "auth.json")); err != nil {
		t.Fatal(err)
	}
	got := f.since(t, n, "corruption", isInvalidated)
	if len(got) == 0 || got[0].(Invalidation).Reason != ReasonCredentialsCorrupted {
		t.Fatalf("after corrupting auth.json: %#v, want credentialsCorrupted first", got)
	}
	st, _ := f.m.Status(ctx, false)
	var ce *store.CorruptError
	if _, err := f.m.Token(ctx, false); !errors.As(err, &ce) || st.Problem == "" || st.Account != nil {
		t.Errorf("while corrupt: Token error %v, Status problem %q, account %+v; want a CorruptError, a problem, no account", err, st.Problem, st.Account)
	}

	// Logging in again from a corrupt record is a change, not an invalidation.
	f.since(t, n, "corruption handled", isAdopted)
	n = len(f.rec.all())
	mustNoErr(t, f.other.Replace(ctx, store.NewAPIKeyRecord(keyA)))
	got = f.since(t, n, "login after corruption", isUpdated)
	if diff := cmp.Diff([]any{AccountUpdated{AuthMode: "apikey"}}, got); diff != "" {
		t.Errorf("login after corruption (-want +got):\n%s", diff)
	}
}

// TestFollowOwnWritesNotReported: the Manager's own login and logout do
// not come back from its watcher as changes made elsewhere.
func TestFollowOwnWritesNotReported(t *testing.T) {
	f := newFollow(t, nil, nil)
	// Each own write is seen by the watcher (the adopted marker) before
	// the next, so none is hidden by the next one.
	mustNoErr(t, f.m.LoginAPIKey(t.Context(), "sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa"))
	f.since(t, 0, "the watcher seeing the login", isAdopted)
	n := len(f.rec.all())
	mustNoErr(t, f.m.Logout(t.Context()))
	f.since(t, n, "the watcher seeing the logout", isAdopted)
	// A change by another process afterwards is the next thing reported.
	mustNoErr(t, f.other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-bbbbbbbbbbbbbbbbbbbbbbbb")))
	got := f.rec.waitFor(t, "the other login", func(evs []any) bool {
		return len(ofType[adopted](evs)) >= 3
	})
	want := []any{
		AccountUpdated{AuthMode: "apikey"}, adopted{},
		AccountUpdated{}, adopted{},
		AccountUpdated{AuthMode: "apikey"}, adopted{verdict{Changed: true}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(adopted{})); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

// policyCase is one rule of the managed policy against one record.
type policyCase struct {
	name   string
	config string        // config.toml
	rec    *store.Record // stored credentials
	// violation is Codex's message, "" when the record complies.
	violation string
}

const (
	msgChatGPTDisabled = "ChatGPT login is disabled. Use API key login instead."
	msgAPIKeyDisabled  = "API key login is disabled. Use ChatGPT login instead."
)

func policyCases() []policyCase {
	apiKey := store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")
	return []policyCase{
		{"api vs API key", `forced_login_method = "api"`, apiKey, ""},
		{"api vs ChatGPT", `forced_login_method = "api"`, chatgptRecord(followAda, 1), msgChatGPTDisabled},
		{"chatgpt vs API key", `forced_login_method = "chatgpt"`, apiKey, msgAPIKeyDisabled},
		{"chatgpt vs ChatGPT", `forced_login_method = "chatgpt"`, chatgptRecord(followAda, 1), ""},
		{"workspace vs API key", `forced_chatgpt_workspace_id = "ws-1"`, apiKey, ""},
		{"workspace vs its ChatGPT", `forced_chatgpt_workspace_id = ["ws-0", "ws-1"]`, chatgptRecord(followAda, 1), ""},
		{"workspace vs another ChatGPT", `forced_chatgpt_workspace_id = "ws-1"`, chatgptRecord(followBob, 1),
			"Login is restricted to workspace(s) ws-1, but current credentials belong to ws-2."},
	}
}

// writeConfig replaces $CODEX_HOME/config.toml atomically, as an editor
// or a management tool would.
func writeConfig(t *testing.T, dir, body string) {
	t.Helper()
	f, err := os.CreateTemp(dir, ".config-*")
	mustNoErr(t, err)
	_, err = f.WriteString(body + "\n")
	mustNoErr(t, err)
	mustNoErr(t, f.Close())
	mustNoErr(t, os.Rename(f.Name(), filepath.Join(dir, "config.toml")))
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkEnforced checks the outcome of a policy check on stored
// credentials: on a violation the record is gone everywhere and the
// editor told why; else it is kept.
func checkEnforced(t *testing.T, f *followEnv, pc policyCase, got []any) {
	t.Helper()
	stored, err := f.other.Load(t.Context())
	mustNoErr(t, err)
	st, err := f.m.Status(t.Context(), false)
	mustNoErr(t, err)
	if pc.violation == "" {
		for _, e := range got {
			if isInvalidated(e) {
				t.Errorf("complying record: got %#v", e)
			}
		}
		if stored == nil || st.Account == nil {
			t.Errorf("complying record: stored %v, status account %v; want both", stored != nil, st.Account != nil)
		}
		return
	}
	want := []any{Invalidation{Reason: ReasonPolicyViolation, Message: pc.violation + " Logging out."}, AccountUpdated{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
	if stored != nil || st.Account != nil {
		t.Errorf("violating record: still stored %v, status account %+v; want logged out", stored != nil, st.Account)
	}
	if _, err := f.m.Token(t.Context(), false); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Token after the policy logout: %v, want ErrNotLoggedIn", err)
	}
}

func TestPolicyAtStart(t *testing.T) {
	for _, pc := range policyCases() {
		t.Run(pc.name, func(t *testing.T) {
			f := newFollow(t, func(f *followEnv) {
				writeConfig(t, f.home.Dir, pc.config)
				mustNoErr(t, f.other.Replace(t.Context(), pc.rec))
			}, nil)
			got := f.rec.all() // Start sent them before returning
			checkEnforced(t, f, pc, got)
			st, _ := f.m.Status(t.Context(), false)
			if st.Policy.ForcedLoginMethod == "" && len(st.Policy.ForcedWorkspaceIDs) == 0 {
				t.Errorf("Status.Policy = %+v, want the policy of %s", st.Policy, pc.config)
			}
		})
	}
}

// TestPolicyProblemUntilNextChange: the editor may connect after the
// policy logout at start (notifications before initialize are not
// delivered live), so account/read says why it is logged out, until the
// next change.
func TestPolicyProblemUntilNextChange(t *testing.T) {
	forbidden := chatgptRecord(followAda, 1)
	want := msgChatGPTDisabled + " The stored credentials were logged out."
	t.Run("cleared by a login", func(t *testing.T) {
		f := newFollow(t, func(f *followEnv) {
			writeConfig(t, f.home.Dir, `forced_login_method = "api"`)
			mustNoErr(t, f.other.Replace(t.Context(), forbidden))
		}, nil)
		st, err := f.m.Status(t.Context(), false)
		mustNoErr(t, err)
		if st.Account != nil || st.Problem != want {
			t.Errorf("Status after the policy logout at start: account %+v, problem %q; want none and %q", st.Account, st.Problem, want)
		}
		mustNoErr(t, f.m.LoginAPIKey(t.Context(), "sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa"))
		if st, _ := f.m.Status(t.Context(), false); st.Problem != "" || st.Account == nil {
			t.Errorf("Status after a login: account %+v, problem %q; want the account and no problem", st.Account, st.Problem)
		}
	})
	t.Run("cleared by a login elsewhere", func(t *testing.T) {
		f := newFollow(t, func(f *followEnv) {
			writeConfig(t, f.home.Dir, `forced_login_method = "api"`)
			mustNoErr(t, f.other.Replace(t.Context(), forbidden))
		}, nil)
		n := len(f.rec.all())
		mustNoErr(t, f.other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")))
		f.since(t, n, "the login elsewhere", isUpdated)
		if st, _ := f.m.Status(t.Context(), false); st.Problem != "" || st.Account == nil {
			t.Errorf("Status after a login elsewhere: account %+v, problem %q; want the account and no problem", st.Account, st.Problem)
		}
	})
	t.Run("cleared by a logout", func(t *testing.T) {
		f := newFollow(t, func(f *followEnv) {
			writeConfig(t, f.home.Dir, `forced_login_method = "api"`)
			mustNoErr(t, f.other.Replace(t.Context(), forbidden))
		}, nil)
		mustNoErr(t, f.m.Logout(t.Context()))
		if st, _ := f.m.Status(t.Context(), false); st.Problem != "" {
			t.Errorf("Status after a logout: problem %q, want none", st.Problem)
		}
	})
}

// TestStoreModeChangedWhileRunning: cli_auth_credentials_store changed
// in config.toml while serving would have Codex (at its next start) and
// this process use different stores; it is reported, in account/read's
// problem and with an account/updated, until it is changed back.
func TestStoreModeChangedWhileRunning(t *testing.T) {
	f := newFollow(t, func(f *followEnv) {
		mustNoErr(t, f.other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")))
	}, nil)
	writeConfig(t, f.home.Dir, `cli_auth_credentials_store = "keyring"`)
	f.since(t, 0, "the store change", isUpdated)
	st, err := f.m.Status(t.Context(), false)
	mustNoErr(t, err)
	if st.Account == nil {
		t.Errorf("Status.Account = nil; the record in use is still served")
	}
	if !strings.Contains(st.Problem, `cli_auth_credentials_store`) || !strings.Contains(st.Problem, "restart") {
		t.Errorf("Status.Problem = %q, want it to say the store setting changed and a restart is needed", st.Problem)
	}
	n := len(f.rec.all())
	writeConfig(t, f.home.Dir, `cli_auth_credentials_store = "file"`)
	f.since(t, n, "the store change back", isUpdated)
	if st, _ := f.m.Status(t.Context(), false); st.Problem != "" {
		t.Errorf("Status.Problem = %q after the setting was changed back, want none", st.Problem)
	}
}

func TestPolicyOnConfigChange(t *testing.T) {
	for _, pc := range policyCases() {
		t.Run(pc.name, func(t *testing.T) {
			f := newFollow(t, func(f *followEnv) {
				mustNoErr(t, f.other.Replace(t.Context(), pc.rec))
			}, nil)
			if evs := f.rec.all(); len(evs) != 0 {
				t.Fatalf("no policy yet, yet %#v", evs)
			}
			writeConfig(t, f.home.Dir, pc.config)
			// The policy changed: Updated tells the editor to re-read it.
			got := f.since(t, 0, "the policy change", isAdopted)
			if pc.violation == "" {
				if diff := cmp.Diff([]any{updatedOf(pc.rec)}, got); diff != "" {
					t.Errorf("notifications (-want +got):\n%s", diff)
				}
			}
			checkEnforced(t, f, pc, got)
		})
	}
}

// TestPolicyOnCredentialChange: credentials another process stores are
// checked as they arrive.
func TestPolicyOnCredentialChange(t *testing.T) {
	for _, pc := range policyCases() {
		if pc.violation == "" {
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			f := newFollow(t, func(f *followEnv) { writeConfig(t, f.home.Dir, pc.config) }, nil)
			mustNoErr(t, f.other.Replace(t.Context(), pc.rec))
			// The violation ends with Updated after the invalidation.
			f.rec.waitFor(t, "the violation and the update after it", func(evs []any) bool {
				inv := slices.IndexFunc(evs, isInvalidated)
				return inv >= 0 && slices.ContainsFunc(evs[inv:], isUpdated)
			})
			got := f.since(t, 0, "the violation", isInvalidated)
			checkEnforced(t, f, pc, got)
		})
	}
}

// racyStore is a file store where, once armed, another process stores
// a record right after a Load has read the previous one (the Codex CLI
// logging in, holding auth.lock, while we decide what to do).
type racyStore struct {
	*store.Store
	other *store.Store
	mu    sync.Mutex
	next  *store.Record // written after the next Load, once
}

func (s *racyStore) Load(ctx context.Context) (*store.Record, error) {
	rec, err := s.Store.Load(ctx)
	s.mu.Lock()
	next := s.next
	s.next = nil
	s.mu.Unlock()
	if next != nil {
		if rerr := s.other.Replace(ctx, next); rerr != nil {
			return nil, rerr
		}
	}
	return rec, err
}

// TestPolicyDeletesOnlyTheViolatingRecord: the record the policy check
// found violating is the one deleted; a compliant login stored in
// between (ours, or the Codex CLI's) is kept and adopted.
func TestPolicyDeletesOnlyTheViolatingRecord(t *testing.T) {
	compliant := chatgptRecord(followAda, 1)
	t.Run("at start", func(t *testing.T) {
		var rs *racyStore
		f := newFollow(t, func(f *followEnv) {
			writeConfig(t, f.home.Dir, `forced_login_method = "chatgpt"`)
			mustNoErr(t, f.other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")))
		}, func(o *Options) {
			rs = &racyStore{Store: o.Store.(*store.Store), other: fileStore(t, filepath.Dir(o.Store.AuthFile())), next: compliant}
			o.Store = rs
		})
		stored, err := f.other.Load(t.Context())
		mustNoErr(t, err)
		if stored == nil || stored.EffectiveMode() != store.AuthModeChatGPT {
			t.Fatalf("the compliant login stored in between was deleted (stored now: %v)", stored)
		}
		st, err := f.m.Status(t.Context(), false)
		mustNoErr(t, err)
		if st.Account == nil || st.Account.Type != "chatgpt" {
			t.Errorf("Status.Account = %+v, want the compliant ChatGPT login", st.Account)
		}
		for _, e := range f.rec.all() {
			if isInvalidated(e) {
				t.Errorf("got %#v: nothing was logged out", e)
			}
		}
	})
	t.Run("on a change", func(t *testing.T) {
		var rs *racyStore
		f := newFollow(t, func(f *followEnv) {
			writeConfig(t, f.home.Dir, `forced_login_method = "chatgpt"`)
		}, func(o *Options) {
			rs = &racyStore{Store: o.Store.(*store.Store), other: fileStore(t, filepath.Dir(o.Store.AuthFile()))}
			o.Store = rs
		})
		rs.mu.Lock()
		rs.next = compliant
		rs.mu.Unlock()
		mustNoErr(t, f.other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")))
		f.rec.waitFor(t, "the ChatGPT login adopted", func(evs []any) bool {
			return slices.ContainsFunc(evs, func(e any) bool { u, ok := e.(AccountUpdated); return ok && u.AuthMode == store.AuthModeChatGPT })
		})
		stored, err := f.other.Load(t.Context())
		mustNoErr(t, err)
		if stored == nil || stored.EffectiveMode() != store.AuthModeChatGPT {
			t.Errorf("the compliant login stored in between was deleted (stored now: %v)", stored)
		}
	})
}

// TestPolicyAtLogin: logins the policy forbids are refused with Codex's
// message, and nothing is saved.
func TestPolicyAtLogin(t *testing.T) {
	tests := []struct {
		config  string
		login   string // "apikey", "browser", "device"
		wantMsg string
	}{
		{`forced_login_method = "api"`, "browser", msgChatGPTDisabled},
		{`forced_login_method = "api"`, "device", msgChatGPTDisabled},
		{`forced_login_method = "api"`, "apikey", ""},
		{`forced_login_method = "chatgpt"`, "apikey", msgAPIKeyDisabled},
		{`forced_chatgpt_workspace_id = "ws-9"`, "apikey", ""},
	}
	for _, tt := range tests {
		t.Run(tt.config+" "+tt.login, func(t *testing.T) {
			f := newFollow(t, func(f *followEnv) { writeConfig(t, f.home.Dir, tt.config) }, nil)
			var err error
			switch tt.login {
			case "apikey":
				err = f.m.LoginAPIKey(t.Context(), "sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")
			case "browser":
				_, err = f.m.StartBrowserLogin(t.Context())
			case "device":
				_, err = f.m.StartDeviceLogin(t.Context())
			}
			var pe *PolicyError
			switch {
			case tt.wantMsg == "" && err != nil:
				t.Errorf("login refused: %v", err)
			case tt.wantMsg != "" && (!errors.As(err, &pe) || pe.Message != tt.wantMsg):
				t.Errorf("login error = %v, want the PolicyError %q", err, tt.wantMsg)
			}
			stored, _ := f.other.Load(t.Context())
			if (stored != nil) != (tt.wantMsg == "" && tt.login == "apikey") {
				t.Errorf("stored after the login: %v", stored != nil)
			}
		})
	}
}

// followKeyring is an in-memory OS keyring shared by two stores, as the
// Secret Service is shared by two processes.
type followKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *followKeyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[service+"|"+user]
	if !ok {
		return "", store.ErrKeyringNotFound
	}
	return v, nil
}

func (k *followKeyring) Set(service, user, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[service+"|"+user] = secret
	return nil
}

func (k *followKeyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[service+"|"+user]; !ok {
		return store.ErrKeyringNotFound
	}
	delete(k.m, service+"|"+user)
	return nil
}

// TestFollowKeyring: in keyring mode the entry is polled, since the
// Secret Service reports no changes.
func TestFollowKeyring(t *testing.T) {
	kr := &followKeyring{m: map[string]string{}}
	dir := t.TempDir()
	open := func() *store.Store {
		s, err := store.Open(store.Home{Dir: dir}, store.Options{Mode: store.ModeKeyring, Keyring: kr})
		mustNoErr(t, err)
		return s
	}
	other := open()
	mustNoErr(t, other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")))
	f := newFollow(t, nil, func(o *Options) {
		o.Store = open()
		o.KeyringPoll = 10 * time.Millisecond
		o.ConfigFiles = nil
		o.ConfigReload = nil
	})
	if st, _ := f.m.Status(t.Context(), false); st.Account == nil || st.Account.Type != "apiKey" {
		t.Fatalf("Status at start: %+v, want the API key", st.Account)
	}
	_, err := other.Delete(t.Context())
	mustNoErr(t, err)
	got := f.since(t, 0, "the keyring logout", isAdopted)
	want := []any{Invalidation{Reason: ReasonLoggedOut, Message: classifyMsgLoggedOut}, AccountUpdated{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

// TestFollowRealKeyring: under the real Secret Service, an entry removed
// with `secret-tool clear` (as another tool would) is noticed by polling.
func TestFollowRealKeyring(t *testing.T) {
	testenv.Keyring(t)
	if _, err := exec.LookPath("secret-tool"); err != nil {
		testenv.Missing(t, "secret-tool is not installed", "apt-get install libsecret-tools")
	}
	dir := t.TempDir()
	home := store.Home{Dir: dir}
	open := func() *store.Store {
		s, err := store.Open(home, store.Options{Mode: store.ModeKeyring})
		mustNoErr(t, err)
		return s
	}
	other := open()
	mustNoErr(t, other.Replace(t.Context(), store.NewAPIKeyRecord("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaa")))
	t.Cleanup(func() { other.Delete(context.Background()) })
	f := newFollow(t, nil, func(o *Options) {
		o.Store = open()
		o.KeyringPoll = 20 * time.Millisecond
		o.ConfigFiles = nil
		o.ConfigReload = nil
	})
	if st, _ := f.m.Status(t.Context(), false); st.Account == nil {
		t.Fatalf("Status at start: no account; problem %q", st.Problem)
	}
	clear := exec.CommandContext(t.Context(), "secret-tool", "clear", "service", store.KeyringService, "username", home.KeyringAccount())
	if out, err := clear.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool clear: %v: %s", err, out)
	}
	got := f.since(t, 0, "the keyring entry cleared", isAdopted)
	want := []any{Invalidation{Reason: ReasonLoggedOut, Message: classifyMsgLoggedOut}, AccountUpdated{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}
