package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codex-auth/codex-auth/session/loopback"
	"github.com/codex-auth/codex-auth/session/watch"
	"github.com/codex-auth/codex-auth/store"
)

// Store is what the Manager needs from the credential store
// (*store.Store implements it).
type Store interface {
	Load(ctx context.Context) (*store.Record, error)
	Update(ctx context.Context, fn func(cur *store.Record) (*store.Record, error)) (*store.Record, error)
	Replace(ctx context.Context, r *store.Record) error
	DeleteIf(ctx context.Context, match func(cur *store.Record) bool) (deleted bool, cur *store.Record, err error)
	Take(ctx context.Context) (prev *store.Record, existed bool, err error)
	Location() store.Location
	AuthFile() string
}

// Callback ports. OpenAI's issuer accepts only these two redirect ports.
const (
	DefaultCallbackPort  = 1455
	FallbackCallbackPort = 1457
	// AnyCallbackPort asks for any free port (only where the issuer
	// allows it: the local issuer in tests). The cmd maps
	// CODEX_AUTH_CALLBACK_PORT=0 to it.
	AnyCallbackPort = -1
)

// Defaults for Options.
const (
	DefaultRefreshWindow  = 5 * time.Minute
	DefaultLoginTimeout   = 10 * time.Minute
	DefaultRefreshTimeout = 30 * time.Second
	// revokeTimeout bounds a background revoke at logout (Codex: 10 s).
	revokeTimeout = 10 * time.Second
	// logoutRevokeWait is how long LogoutAndRevoke waits (the CLI's 5 s).
	logoutRevokeWait = 5 * time.Second
)

// Options configure a Manager.
type Options struct {
	// Store holds the shared auth record. Required.
	Store Store
	// Saved keeps every account that becomes active, for switching in
	// place (accounts.go); usually the same *store.Store, opened with
	// SavedAccounts. Optional: without it the account-session methods
	// answer that saved accounts are unavailable.
	Saved SavedStore
	// Config is the configuration in force (policy).
	Config store.Config
	// ConfigReload re-reads the configuration layers; it is called at
	// Start and whenever a config file changes, so that the managed policy
	// in force follows the files. Optional: without it Config stays.
	ConfigReload func() (store.Config, error)
	// ConfigFiles are the configuration layer files to watch
	// (store.ConfigPaths); $CODEX_HOME/config.toml is watched anyway.
	ConfigFiles []string
	// KeyringPoll is how often the keyring entry is read to notice
	// changes in keyring and auto modes (Secret Service does not report
	// them); 0 means watch.DefaultPoll.
	KeyringPoll time.Duration
	// DisableWatch turns watching off (unit tests that drive Reload
	// themselves, one-shot CLI commands).
	DisableWatch bool
	// Issuer is the sign-in server: OpenAI's. Required unless Provider
	// is set.
	Issuer Issuer
	// Provider, instead of Issuer, signs in to an OpenID provider
	// (session/provider.go): Store must then be its own store
	// (store.OpenProvider), never Codex's.
	Provider Provider
	// Whoami answers what a personal access token belongs to (the Codex
	// account API). Optional: without it such a record shows no email,
	// plan or workspace, and an access-token login fails.
	Whoami Whoami
	// Editor is told of changes and asked to show the sign-in page.
	// Optional: NoEditor.
	Editor Editor
	// Browser opens a URL in this machine's browser when the editor
	// cannot show documents (the sidecar's and the CLI's is
	// loopback.OpenBrowser). Optional: none.
	Browser func(ctx context.Context, url string) (opened bool, err error)
	// Headless reports that no browser can be shown on this machine;
	// default loopback.DetectHeadless on this process's environment. An editor
	// that shows documents opens the page where the user is instead.
	Headless func() bool
	// CallbackPort is the browser login's loopback port: 0 means
	// DefaultCallbackPort, AnyCallbackPort any free port.
	CallbackPort int
	// FallbackPort is tried when CallbackPort is taken by another program;
	// 0 means FallbackCallbackPort when CallbackPort is the default, else
	// none.
	FallbackPort int
	// RefreshWindow: refresh when the access token expires within it.
	RefreshWindow time.Duration
	// LoginTimeout bounds a browser login flow.
	LoginTimeout time.Duration
	// DeviceLimit is how long a device code is polled before the login
	// ends as expired (default DefaultDeviceLimit, OpenAI's 15 minutes).
	DeviceLimit time.Duration
	// RefreshTimeout bounds waiting for auth.lock in a refresh, and
	// separately the call to the issuer once the lock is held.
	RefreshTimeout time.Duration
	// BackgroundRefresh keeps the shared ChatGPT record fresh ahead of
	// the Codex CLI's refresh window while the Manager runs (the
	// sidecar); one-shot commands leave it off.
	BackgroundRefresh bool
	// LateDelay is the longest random wait before redeeming a token that
	// is already inside Codex's window (default DefaultLateDelay).
	LateDelay time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger gets diagnostics, never secrets; default discards.
	Logger *slog.Logger
	// SetUserAgent, when set, receives the HTTP user agent once the
	// editor names itself (SetClient).
	SetUserAgent func(string)
	// Version is codex-auth's version, for the user agent.
	Version string
}

// Manager runs sign-in flows, keeps the token fresh and answers the
// account API from an in-memory view of the stored record. It implements
// rpc.Service. Safe for concurrent use.
type Manager struct {
	opts   Options
	editor Editor
	log    *slog.Logger

	// ctx is the Manager's lifetime: flows, refreshes and revokes run on
	// it (never on a request's context); Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// loginMu serialises login starts and cancels.
	loginMu sync.Mutex

	// evMu serialises every change of the in-memory record with the
	// store write behind it and the notifications that report it, so the
	// watcher never reports the Manager's own writes and notifications
	// go out in the order the changes happened. Taken before mu.
	evMu    sync.Mutex
	started bool // guarded by evMu
	// devicePoll, when set (tests), replaces the issuer's device poll
	// interval.
	devicePoll time.Duration
	// traceAdopt, when set (tests), hears every change the watcher
	// classified, after its notifications.
	traceAdopt func(verdict)

	mu      sync.Mutex
	cfg     store.Config  // the configuration in force (policy)
	rec     *store.Record // the in-memory view; nil when logged out
	loadErr error         // why the stored record cannot be used
	// watchErr: the watcher could not start (Status warns).
	watchErr error
	// notice says why the editor is logged out (a policy logout),
	// shown by Status as the problem until the next change: an editor
	// that connects after the logout at start learns why.
	notice string
	// modeBase is cli_auth_credentials_store as first read (nil until
	// then); storeNotice says it changed since: the store in use is not
	// switched while running (see reloadConfig).
	modeBase    *store.Mode
	storeNotice string
	// last is what the editor was last told about the stored
	// credentials; changes found by the watcher are classified against it.
	last snapshot
	// watcher is set by Start when watching; commit asks it to resync.
	watcher atomic.Pointer[watch.Watcher]
	// gen counts changes of the in-memory record made by logins and
	// logouts, so a refresh that started before one does not undo it.
	gen     uint64
	login   *loginRun
	refresh refreshState
	// aheadKick wakes the background refresh (refresh_ahead.go) when the record
	// changes; nil without Options.BackgroundRefresh.
	aheadKick chan struct{}
	// pat caches whoami's answer for the stored personal access token.
	pat patCache
	// savedServed is the access token last served per inactive saved
	// account (AccountToken's forced refreshes are asked against it).
	savedServed map[string]string

	// told is the saved accounts' list as the editor last heard it
	// (accountSession/updated); guarded by toldMu, which is taken alone.
	toldMu sync.Mutex
	told   listTold
}

// New validates opts and returns a Manager; call Start before serving.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("session: Options.Store is required")
	}
	if (opts.Issuer == nil) == (opts.Provider == nil) {
		return nil, errors.New("session: one of Options.Issuer and Options.Provider is required")
	}
	if opts.Provider != nil && opts.CallbackPort == 0 {
		// RFC 8252 section 7.3: a provider takes any loopback port.
		opts.CallbackPort = AnyCallbackPort
	}
	if opts.CallbackPort < AnyCallbackPort || opts.CallbackPort > 65535 {
		return nil, fmt.Errorf("session: callback port %d out of range", opts.CallbackPort)
	}
	if opts.FallbackPort < 0 || opts.FallbackPort > 65535 {
		return nil, fmt.Errorf("session: fallback port %d out of range", opts.FallbackPort)
	}
	if opts.CallbackPort == 0 {
		opts.CallbackPort = DefaultCallbackPort
		if opts.FallbackPort == 0 {
			opts.FallbackPort = FallbackCallbackPort
		}
	}
	for _, d := range []*time.Duration{&opts.RefreshWindow, &opts.LoginTimeout, &opts.RefreshTimeout, &opts.DeviceLimit, &opts.KeyringPoll, &opts.LateDelay} {
		if *d < 0 {
			return nil, fmt.Errorf("session: negative duration %v", *d)
		}
	}
	if opts.RefreshWindow == 0 {
		opts.RefreshWindow = DefaultRefreshWindow
	}
	if opts.LoginTimeout == 0 {
		opts.LoginTimeout = DefaultLoginTimeout
	}
	if opts.RefreshTimeout == 0 {
		opts.RefreshTimeout = DefaultRefreshTimeout
	}
	if opts.LateDelay == 0 {
		opts.LateDelay = DefaultLateDelay
	}
	if opts.DeviceLimit == 0 {
		opts.DeviceLimit = DefaultDeviceLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Headless == nil {
		opts.Headless = func() bool { return loopback.DetectHeadless(os.Getenv, runtime.GOOS) }
	}
	if opts.Editor == nil {
		opts.Editor = NoEditor{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		opts:   opts,
		editor: opts.Editor,
		cfg:    opts.Config,
		log:    opts.Logger,
		ctx:    ctx,
		cancel: cancel,
	}
	if opts.BackgroundRefresh {
		m.aheadKick = make(chan struct{}, 1)
	}
	return m, nil
}

// Start starts watching the shared credentials and the configuration
// files (unless DisableWatch), re-reads the configuration, loads the
// stored record into memory and enforces the managed policy on it (a
// violation logs out and notifies policyViolation). A corrupt record is
// not an error here: Status reports it as a Problem. Other load errors
// (store unavailable) are returned, and also reported by Status.
func (m *Manager) Start(ctx context.Context) error {
	m.evMu.Lock()
	defer m.evMu.Unlock()
	if m.started {
		return errors.New("session: Start called twice")
	}
	m.started = true
	if err := m.startWatch(ctx); err != nil {
		return err
	}
	m.reloadConfig()
	err := m.adopt(ctx, false, false)
	m.syncSaved(ctx)
	m.tellAccounts() // the baseline: nothing is sent
	if m.aheadKick != nil {
		m.wg.Add(1)
		go m.runAhead()
	}
	if err != nil && !isCorrupt(err) {
		return err
	}
	m.mu.Lock()
	rec := m.rec
	m.mu.Unlock()
	if t, ok := rec.PersonalAccessTokenOf(); ok {
		m.accessTokenInfo(t, false) // in the background: account/read never waits
	}
	return nil
}

// Reload re-reads the stored record into memory (without auth.lock) and
// enforces the policy on it, without notifying a change (the watcher
// does). It returns the load error, which Status also reports.
func (m *Manager) Reload(ctx context.Context) error {
	m.evMu.Lock()
	defer m.evMu.Unlock()
	return m.adopt(ctx, false, false)
}

// policy is the managed policy in force now.
func (m *Manager) policy() Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.policyOf(m.cfg)
}

// Close cancels every flow, refresh and background revoke, and waits for
// them to end.
func (m *Manager) Close() error {
	m.cancel()
	m.loginMu.Lock()
	m.stopLogin(nil)
	m.loginMu.Unlock()
	m.wg.Wait()
	return nil
}

// SetClient passes the editor's name and version into the user agent,
// as a comment (RFC 9110 section 5.6.5): what the editor sent is cut
// short and stripped of what would not fit there (control characters,
// parentheses, backslashes), so that a hostile clientInfo can neither
// break the header nor crowd out codex-auth's own product.
func (m *Manager) SetClient(name, version string) {
	if m.opts.SetUserAgent == nil {
		return
	}
	ua := "codex-auth/" + m.opts.Version
	if name := commentText(name, 64); name != "" {
		ua += " (" + strings.TrimSpace(name+" "+commentText(version, 32)) + ")"
	}
	m.opts.SetUserAgent(ua)
}

// commentText is s fit for a User-Agent comment: printable ASCII without
// parentheses or backslashes (others become '?', white space one space),
// at most n bytes.
func commentText(s string, n int) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(s), " ") {
		if b.Len() >= n {
			break
		}
		switch {
		case r == '(' || r == ')' || r == '\\' || r < 0x20 || r == 0x7f:
			continue
		case r > 0x7e:
			r = '?'
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// Status answers account/read. Without refresh it answers from memory and
// never touches the network or a lock. With refresh it first makes sure
// the ChatGPT access token is fresh (bounded by RefreshTimeout).
func (m *Manager) Status(ctx context.Context, refresh bool) (Status, error) {
	if refresh {
		m.mu.Lock()
		rec := m.rec
		m.mu.Unlock()
		supported := rec != nil && m.usable(rec)
		switch {
		case supported && (rec.EffectiveMode() == store.AuthModeChatGPT || rec.EffectiveMode() == store.AuthModeOIDC):
			if _, err := m.ensureFresh(ctx, false); err != nil {
				return Status{}, err
			}
		case supported && rec.EffectiveMode() == store.AuthModePersonalAccessToken:
			// What the token belongs to, asked anew (bounded).
			t, _ := rec.PersonalAccessToken()
			wctx, cancel := context.WithTimeout(ctx, m.opts.RefreshTimeout)
			_, err := m.waitAccessTokenInfo(wctx, t, true)
			cancel()
			if err != nil && !errors.Is(err, ErrAccessTokenRejected) {
				return Status{}, err
			}
		}
	}
	loc := m.opts.Store.Location()
	st := Status{
		StoreMode:     string(loc.Mode),
		StoreLocation: loc.Where,
		StoreFallback: loc.Fallback,
		Policy:        m.policy(),
	}
	switch {
	case m.opts.Provider != nil:
		info := m.opts.Provider.Info()
		st.Provider, st.Issuer = &info, info.Issuer
	case m.opts.Issuer.IsDefault():
		st.RequiresOpenAIAuth = true
	default:
		st.Issuer = m.opts.Issuer.Base()
	}
	m.mu.Lock()
	rec, loadErr, dead, deadWhy, notice, storeNotice := m.rec, m.loadErr, m.refresh.dead, m.refresh.deadWhy, m.notice, m.storeNotice
	if m.watchErr != nil {
		st.Warning = "changes made by other programs (the Codex CLI, other editors) are not noticed: the watcher could not start"
	}
	m.mu.Unlock()
	switch {
	case loadErr != nil:
		st.Problem = problemText(loadErr)
	case rec == nil:
		st.Problem = notice
	case !m.usable(rec):
		st.Problem = fmt.Sprintf("%s (auth_mode %q)", ErrUnsupportedRecord, rec.EffectiveMode())
	case isAccessTokenMode(rec.EffectiveMode()):
		m.accessTokenStatus(rec, &st)
	default:
		st.Account = accountOf(rec)
		if dead != "" && rec.Tokens != nil && dead == rec.Tokens.RefreshToken {
			st.Problem = deadWhy.Error()
		}
	}
	if st.Problem == "" {
		st.Problem = storeNotice
	}
	return st, nil
}

// problemText is a message safe to show for a record that cannot be used.
func problemText(err error) string {
	var ce *store.CorruptError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe.Message
	}
	if errors.Is(err, store.ErrUnavailable) {
		return store.ErrUnavailable.Error()
	}
	return "the stored credentials could not be read"
}

func isCorrupt(err error) bool {
	var ce *store.CorruptError
	return errors.As(err, &ce)
}

// accountOf is what account/read shows of a supported record (for a
// personal access token, without what whoami says: see accessTokenStatus).
func accountOf(rec *store.Record) *Account {
	v := rec.Account()
	a := &Account{Email: v.Email, PlanType: v.PlanType, WorkspaceID: v.WorkspaceID, ExpiresAt: v.ExpiresAt}
	switch v.Mode {
	case store.AuthModeAPIKey:
		return &Account{Type: AccountAPIKey, APIKeyHint: v.APIKeyHint}
	case store.AuthModePersonalAccessToken:
		return &Account{Type: AccountPersonalAccessToken}
	case store.AuthModeOIDC:
		return &Account{Type: AccountOIDC, Subject: v.UserID, Email: v.Email, Name: v.Name, ExpiresAt: v.ExpiresAt}
	case store.AuthModeAgentIdentity:
		a.Type = AccountAgentIdentity
	default:
		a.Type = AccountChatGPT
	}
	return a
}

// updatedOf is the account/updated notification for a record (nil: logged out).
func updatedOf(rec *store.Record) AccountUpdated {
	if rec == nil || !rec.Supported() {
		return AccountUpdated{}
	}
	a := rec.Account()
	return AccountUpdated{AuthMode: a.Mode, PlanType: a.PlanType, Email: a.Email, WorkspaceID: a.WorkspaceID}
}

// Stored is the record in memory (nil when logged out) and the error
// loading it gave, for the CLI to describe in Codex's words. The record
// is shared: the caller must not change it.
func (m *Manager) Stored() (*store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rec, m.loadErr
}

// Location is where the credentials are kept.
func (m *Manager) Location() store.Location { return m.opts.Store.Location() }

// current is the in-memory record, or the error account/token gives.
func (m *Manager) current() (*store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.loadErr != nil:
		return nil, m.loadErr
	case m.rec == nil:
		return nil, ErrNotLoggedIn
	case !m.usable(m.rec):
		return nil, ErrUnsupportedRecord
	}
	return m.rec, nil
}

// Token answers account/token: the API key, or a fresh ChatGPT access
// token (refreshed when it expires within RefreshWindow, or when refresh
// is set).
func (m *Manager) Token(ctx context.Context, refresh bool) (Token, error) {
	rec, err := m.current()
	if err != nil {
		return Token{}, err
	}
	switch rec.EffectiveMode() {
	case store.AuthModeAPIKey:
		return Token{Type: AccountAPIKey, APIKey: *rec.APIKey}, nil
	case store.AuthModePersonalAccessToken:
		return m.accessTokenToken(ctx, rec)
	case store.AuthModeAgentIdentity:
		return Token{}, errAgentIdentityToken
	case store.AuthModeOIDC:
		return m.providerToken(ctx, refresh)
	}
	rec, err = m.ensureFresh(ctx, refresh)
	if err != nil {
		return Token{}, err
	}
	m.mu.Lock()
	m.refresh.served = rec.Tokens.AccessToken
	m.mu.Unlock()
	a := accountOf(rec)
	return Token{Type: AccountChatGPT, AccessToken: rec.Tokens.AccessToken, ExpiresAt: a.ExpiresAt, AccountID: a.WorkspaceID}, nil
}

// commit makes a change of the Manager's own (login, logout): under evMu
// it runs write (the store write, which may refuse), then replaces the
// in-memory record with rec, records it as what the editor was told, and
// sends notes. The watcher, also under evMu, then sees the write as known.
func (m *Manager) commit(write func() error, rec *store.Record, notes ...note) error {
	m.evMu.Lock()
	defer m.evMu.Unlock()
	if err := write(); err != nil {
		return err
	}
	m.mu.Lock()
	m.rec, m.loadErr, m.notice = rec.Clone(), nil, ""
	m.last = snapshotOf(rec, nil)
	m.gen++
	m.refresh.reset()
	m.kickAhead()
	m.mu.Unlock()
	if w := m.watcher.Load(); w != nil {
		w.Resync()
	}
	m.tell(notes)
	return nil
}

// loginRun is the login in flight (at most one).
type loginRun struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
}

// stopLogin cancels the login in flight, if any (and if id is nil or its
// id), and waits for it to end, so its port is free. The caller holds
// loginMu. It reports whether one was stopped.
func (m *Manager) stopLogin(id *string) bool {
	m.mu.Lock()
	l := m.login
	if l == nil || (id != nil && l.id != *id) {
		m.mu.Unlock()
		return false
	}
	m.login = nil
	m.mu.Unlock()
	l.cancel()
	<-l.done
	return true
}

// CancelLogin stops the login with that id; it reports whether one was
// running. The flow ends with LoginCompleted{Error: "canceled"}.
func (m *Manager) CancelLogin(ctx context.Context, loginID string) bool {
	m.loginMu.Lock()
	defer m.loginMu.Unlock()
	return m.stopLogin(&loginID)
}

// errCanceled ends a flow stopped by CancelLogin, a new login or Close.
var errCanceled = fmt.Errorf("canceled: %w", context.Canceled)

// flowContext is the context of a flow started by a request: derived
// from the Manager's lifetime, never from the request (which ends when
// the reply is sent), so Close ends it; bounded by limit.
func (m *Manager) flowContext(limit time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(m.ctx, limit)
}

// runLogin runs flow in the background as the one login in flight. The
// caller holds loginMu and has stopped the previous login. run's error
// decides LoginCompleted, which is sent exactly once.
func (m *Manager) runLogin(ctx context.Context, cancel context.CancelFunc, id string, run func(ctx context.Context) error) {
	m.launchLogin(ctx, m.beginLogin(id, cancel), run)
}

// beginLogin registers a login as the one in flight, before its flow runs
// (a device login first waits for its code), so that a new login, a
// cancel or Close can stop it. The caller holds loginMu, has stopped the
// previous login and checked that the Manager is not closed. Every
// beginLogin is followed by launchLogin or abandonLogin.
func (m *Manager) beginLogin(id string, cancel context.CancelFunc) *loginRun {
	l := &loginRun{id: id, cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.login = l
	m.mu.Unlock()
	m.wg.Add(1)
	return l
}

// abandonLogin ends a registered login whose flow never ran; no
// LoginCompleted is sent (the start itself failed).
func (m *Manager) abandonLogin(l *loginRun) {
	m.mu.Lock()
	if m.login == l {
		m.login = nil
	}
	m.mu.Unlock()
	l.cancel()
	close(l.done)
	m.wg.Done()
}

// launchLogin runs a registered login's flow in the background.
func (m *Manager) launchLogin(ctx context.Context, l *loginRun, run func(ctx context.Context) error) {
	go func() {
		defer m.wg.Done()
		defer close(l.done)
		defer l.cancel()
		err := run(ctx)
		m.mu.Lock()
		if m.login == l {
			m.login = nil
		}
		m.mu.Unlock()
		if err == nil {
			return // run sent LoginCompleted and Updated itself
		}
		m.log.Info("login ended", "loginId", l.id, "err", err)
		m.editor.LoginCompleted(LoginCompleted{LoginID: l.id, Error: loginErrorText(ctx, err)})
	}()
}

// loginErrorText is the LoginCompleted error: safe to show.
func loginErrorText(ctx context.Context, err error) string {
	var pe *PolicyError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "login timed out"
	case ctx.Err() != nil, errors.Is(err, errCanceled):
		return "canceled"
	case errors.As(err, &pe):
		return pe.Message
	}
	return err.Error()
}

// WaitLogin waits until the login with id (if it is the one in flight)
// has ended, or ctx ends. After LoginCompleted a browser login still
// serves the success page for a few seconds; a one-shot CLI calls this
// before Close so the browser does not land on a closed port.
func (m *Manager) WaitLogin(ctx context.Context, id string) error {
	m.mu.Lock()
	l := m.login
	m.mu.Unlock()
	if l == nil || l.id != id {
		return nil
	}
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
