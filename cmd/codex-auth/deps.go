package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/internal/httpclient"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

// Environment variables codex-auth reads besides Codex's own.
const (
	envIssuer          = "CODEX_AUTH_ISSUER"
	envClientID        = "CODEX_AUTH_CLIENT_ID"
	envSystemConfigDir = "CODEX_AUTH_SYSTEM_CONFIG_DIR"
	envCallbackPort    = "CODEX_AUTH_CALLBACK_PORT"
	envRefreshWindow   = "CODEX_AUTH_REFRESH_WINDOW"
	envHTTPTimeout     = "CODEX_AUTH_HTTP_TIMEOUT"
	envWatchPoll       = "CODEX_AUTH_KEYRING_POLL"
	// envProvider chooses a provider as --provider does.
	envProvider = "CODEX_AUTH_PROVIDER"
	// envRefreshURL is the Codex CLI's own override of the refresh
	// endpoint, honoured as Codex does (tests point both at one issuer).
	envRefreshURL = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"
	// envAuthAPI is Codex's own: the account API base (whoami).
	envAuthAPI = "CODEX_AUTHAPI_BASE_URL"
)

// stackFlags are the flags of every command that builds a stack (serve,
// login, login status, logout), registered once for all of them.
type stackFlags struct {
	store string
	// provider is --provider: the OpenID provider to sign in to
	// (provider.go); "" for Codex's sign-in.
	provider string
	issuer   string
	clientID string
	logLevel string
	logFile  string
}

// Log levels by default: the sidecar's log is read when something went
// wrong; a one-shot command prints Codex's words and only warnings besides.
const (
	serveLogLevel   = "info"
	oneShotLogLevel = "warn"
)

// newStackFlags starts a command's stack flags from the global --store
// and the command's default log level.
func newStackFlags(g globals, logLevel string) *stackFlags {
	return &stackFlags{store: g.store, provider: g.provider, logLevel: logLevel}
}

// register adds the flags to fs, with the values f holds as defaults.
func (f *stackFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", f.store, "credentials store: file, keyring, auto or ephemeral (overrides cli_auth_credentials_store)")
	fs.StringVar(&f.provider, "provider", f.provider, "sign in to the OpenID provider [codex_auth.providers.NAME] instead of Codex (overrides "+envProvider+")")
	fs.StringVar(&f.issuer, "issuer", f.issuer, "issuer base URL (overrides "+envIssuer+" and [codex_auth] issuer)")
	fs.StringVar(&f.clientID, "client-id", f.clientID, "OAuth client id (overrides "+envClientID+" and [codex_auth] client_id)")
	fs.StringVar(&f.logLevel, "log-level", f.logLevel, "log level: debug, info, warn or error")
	fs.StringVar(&f.logFile, "log-file", f.logFile, "write logs to this file instead of stderr")
}

// logger builds the slog logger (stderr unless --log-file). Logs never
// hold secrets; the file is created 0600.
func (f *stackFlags) logger(stderr io.Writer) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %w", err)
	}
	w, closeFn := stderr, func() {}
	if f.logFile != "" {
		file, err := os.OpenFile(f.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		w, closeFn = file, func() { file.Close() }
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closeFn, nil
}

// hooks are who the Manager talks to: the editor, and this machine's
// browser.
type hooks struct {
	// editor hears the notifications and may show the sign-in page (nil:
	// session.NoEditor).
	editor session.Editor
	// browser opens a page here when the editor cannot (nil: none).
	browser func(ctx context.Context, url string) (bool, error)
	// headless reports that no browser can be shown (nil: detect).
	headless func() bool
	// noWatch: a one-shot command needs no watcher.
	noWatch bool
}

// stack is a built set of dependencies.
type stack struct {
	// netErr is why the HTTP client could not be built (a CA bundle that
	// cannot be read): every request fails with it, and the commands that
	// need no network (an API-key login, a logout without revoking) work.
	netErr error
	home   store.Home
	config store.Config
	store  *store.Store
	http   *httpclient.Client
	// issuer and authAPI are Codex's; nil when a provider is signed in to.
	issuer  *openai.Issuer
	authAPI *openai.AuthAPI
	// provider is the provider signed in to; nil for Codex's sign-in.
	provider *session.ProviderInfo
	manager  *session.Manager
}

// close stops the manager's flows and background work.
func (s *stack) close() {
	if s.manager != nil {
		s.manager.Close()
	}
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
}

// setup is what a stack is built from: the home, the configuration
// layers and the store mode in force, and the provider chosen.
type setup struct {
	home      store.Home
	systemDir string
	config    store.Config
	mode      store.Mode
	// provider is the provider's table; nil for Codex's sign-in.
	provider *store.ProviderConfig
}

// loadSetup resolves CODEX_HOME, reads the configuration layers and the
// provider chosen (--provider, else CODEX_AUTH_PROVIDER), which must be
// defined and allowed.
func loadSetup(f stackFlags, getenv func(string) string) (setup, error) {
	home, err := store.ResolveHome(getenv)
	if err != nil {
		return setup{}, err
	}
	su := setup{home: home, systemDir: getenv(envSystemConfigDir)}
	if su.config, err = store.LoadConfig(home, su.systemDir); err != nil {
		return setup{}, err
	}
	su.mode = su.config.CredentialsStore
	if f.store != "" {
		if su.mode, err = store.ParseMode(f.store); err != nil {
			return setup{}, fmt.Errorf("--store: %w", err)
		}
	}
	if name := first(f.provider, strings.TrimSpace(getenv(envProvider))); name != "" {
		if f.issuer != "" || f.clientID != "" {
			return setup{}, fmt.Errorf("--issuer and --client-id are Codex's sign-in; provider %q has its own in [codex_auth.providers.%s]", name, name)
		}
		p, err := su.config.Provider(name)
		if err != nil {
			return setup{}, err
		}
		su.provider = &p
	}
	return su, nil
}

// providerInfo names the provider chosen; nil for Codex's sign-in.
func (su setup) providerInfo() *session.ProviderInfo {
	if su.provider == nil {
		return nil
	}
	return &session.ProviderInfo{Name: su.provider.Name, Kind: session.KindOIDC, Issuer: su.provider.Issuer, ClientID: su.provider.ClientID}
}

// buildStack resolves CODEX_HOME and the configuration, opens the store
// and builds the HTTP client, the issuer and the session manager: the one
// place every command gets its dependencies from.
func buildStack(f stackFlags, getenv func(string) string, logger *slog.Logger, h hooks) (*stack, error) {
	su, err := loadSetup(f, getenv)
	if err != nil {
		return nil, err
	}
	return buildFrom(su, f, getenv, logger, h)
}

// buildFrom is buildStack once the setup is loaded.
func buildFrom(su setup, f stackFlags, getenv func(string) string, logger *slog.Logger, h hooks) (*stack, error) {
	home, cfg, systemDir, mode := su.home, su.config, su.systemDir, su.mode
	timeout, err := durationEnv(getenv, envHTTPTimeout)
	if err != nil {
		return nil, err
	}
	hc, netErr := httpclient.New(httpclient.Options{Timeout: timeout, Getenv: getenv, UserAgent: "codex-auth/" + versionString()})
	if errors.Is(netErr, httpclient.ErrCABundle) {
		hc = httpclient.Unreachable(netErr)
	} else if netErr != nil {
		return nil, netErr
	}
	port, window, poll, err := sessionEnv(getenv)
	if err != nil {
		return nil, err
	}
	opts := session.Options{
		Config:       cfg,
		ConfigReload: func() (store.Config, error) { return store.LoadConfig(home, systemDir) },
		ConfigFiles:  store.ConfigPaths(home, systemDir),
		KeyringPoll:  poll,
		DisableWatch: h.noWatch,
		Editor:       h.editor,
		Browser:      h.browser,
		Headless:     h.headless,
		CallbackPort: port,
		// (a provider takes any loopback port; CODEX_AUTH_CALLBACK_PORT
		// still names one)
		RefreshWindow: window,
		Logger:        logger,
		SetUserAgent:  hc.SetUserAgent,
		Version:       versionString(),
	}
	if su.provider != nil {
		return buildProvider(su, getenv, logger, hc, netErr, opts)
	}
	// Every account that becomes active is saved, for switching in place
	// (Codex's accounts only: a provider's record is its own).
	st, err := store.Open(home, store.Options{Mode: mode, Logger: logger, SecretAuthStorage: cfg.SecretAuthStorage, SavedAccounts: true})
	if err != nil {
		return nil, err
	}
	iss, err := openai.New(openai.Config{
		Issuer:     first(f.issuer, getenv(envIssuer), cfg.Issuer),
		ClientID:   first(f.clientID, getenv(envClientID), cfg.ClientID),
		RefreshURL: strings.TrimSpace(getenv(envRefreshURL)),
		HTTP:       hc.HTTP(),
	})
	if err != nil {
		return nil, err
	}
	authAPI, err := newAuthAPI(getenv, iss.Base(), hc)
	if err != nil {
		return nil, err
	}
	var sst session.Store = st
	if rec := envAccessTokenRecord(getenv); rec != nil {
		sst = &envTokenStore{inner: st, rec: rec}
	}
	opts.Store = sst
	opts.Saved = st
	// The sidecar keeps the shared record fresh ahead of Codex.
	opts.BackgroundRefresh = !h.noWatch
	opts.Issuer = iss
	opts.Whoami = authAPI
	mgr, err := session.New(opts)
	if err != nil {
		return nil, err
	}
	return &stack{netErr: netErr, home: home, config: cfg, store: st, http: hc, issuer: iss, authAPI: authAPI, manager: mgr}, nil
}

// sessionEnv reads the session's settings from the environment: the
// callback port, the refresh window and the keyring poll.
func sessionEnv(getenv func(string) string) (port int, window, poll time.Duration, err error) {
	if v := getenv(envCallbackPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p > 65535 {
			return 0, 0, 0, fmt.Errorf("%s=%q: want a port number (0 for any free port)", envCallbackPort, v)
		}
		port = p
		if p == 0 {
			port = session.AnyCallbackPort
		}
	}
	if window, err = durationEnv(getenv, envRefreshWindow); err != nil {
		return 0, 0, 0, err
	}
	if poll, err = durationEnv(getenv, envWatchPoll); err != nil {
		return 0, 0, 0, err
	}
	return port, window, poll, nil
}

// newAuthAPI is the Codex account API: CODEX_AUTHAPI_BASE_URL as the Codex
// CLI reads it, else under the issuer (Codex's default is OpenAI's issuer
// + /api/accounts; the local issuer serves the same path).
func newAuthAPI(getenv func(string) string, issuerBase string, hc *httpclient.Client) (*openai.AuthAPI, error) {
	base := strings.TrimSpace(getenv(envAuthAPI))
	if base == "" {
		base = issuerBase + session.AuthAPIPath
	}
	return openai.NewAuthAPI(base, hc.HTTP())
}

// durationEnv parses a Go duration ("4s") from the environment; 0 when
// unset (the component's default).
func durationEnv(getenv func(string) string, name string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 30s", name, v)
	}
	return d, nil
}

// first returns the first non-empty string.
func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// oneShot builds an unwatched stack for a one-shot command and loads the stored record (the Manager's Start, which
// enforces the managed policy as Codex does at start). A stack that
// cannot be built is printed in Codex's words; nil means exit 1. The
// returned function releases everything.
func oneShot(ctx context.Context, g globals, f *stackFlags, h hooks) (*stack, func()) {
	logger, closeLog, err := f.logger(g.stderr)
	if err != nil {
		fmt.Fprintf(g.stderr, "Error loading configuration: %v\n", err)
		return nil, nil
	}
	h.noWatch = true
	st, err := buildStack(*f, g.getenv, logger, h)
	if err != nil {
		closeLog()
		fmt.Fprintf(g.stderr, "Error loading configuration: %v\n", err)
		return nil, nil
	}
	if err := st.manager.Start(ctx); err != nil {
		// Status describes it; a login or logout goes on.
		logger.Debug("loading the stored credentials", "err", err)
	}
	return st, func() { st.close(); closeLog() }
}
