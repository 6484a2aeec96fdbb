package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/codex-auth/codex-auth/internal/httpclient"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// version is stamped at link time: -ldflags "-X main.version=v1.2.3".
var version string

const usage = `usage: codex-auth [--store MODE] COMMAND

commands:
  serve                   run the JSON-RPC sidecar on stdio (editors start it)
  login                   sign in with ChatGPT in the browser
  login --device-auth     sign in with ChatGPT using a device code
  login --with-api-key    save an API key read from stdin
  login --with-access-token
                          save a personal access token (at-…) read from stdin
  login status [--json]   show the stored credentials
  logout                  remove the stored credentials from every store
  version                 print the version
  dev issuer [flags]      run the local issuer (docs/local-issuer.md)

--store MODE overrides cli_auth_credentials_store (file, keyring, auto, ephemeral).
`

// maxAPIKeyInput bounds what login --with-api-key reads from stdin.
const maxAPIKeyInput = 64 << 10

// env is what one invocation runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	storeMode      string // --store, "" when not given
}

// run is the whole command line; main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("codex-auth", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	storeMode := fs.String("store", "", "credentials store: file, keyring, auto or ephemeral")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return fail(stderr, 2, "%v (see codex-auth --help)", err)
	}
	if *storeMode != "" {
		if _, err := store.ParseMode(*storeMode); err != nil {
			return fail(stderr, 2, "--store: %v", err)
		}
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, storeMode: *storeMode}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "serve", "dev":
		// The global --store reaches them as their own flag.
		if *storeMode != "" {
			rest = append([]string{"--store", *storeMode}, rest...)
		}
		if cmd == "serve" {
			return serve(ctx, rest, stdin, stdout, stderr, getenv)
		}
		return runDev(ctx, rest, stdin, stdout, stderr)
	case "login":
		return e.login(ctx, rest)
	case "logout":
		return e.logout(ctx, rest)
	case "version", "--version":
		fmt.Fprintln(stdout, "codex-auth "+versionString())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	return fail(stderr, 2, "unknown command %q (see codex-auth --help)", cmd)
}

// fail prints one line on stderr and returns code.
func fail(stderr io.Writer, code int, format string, a ...any) int {
	fmt.Fprintf(stderr, "codex-auth: "+format+"\n", a...)
	return code
}

// versionString is the stamped version, else the module's, else "devel".
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	v = "devel"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

// open resolves the home and config and opens the store, as Codex does
// before any auth command. Errors are printed; ok false means exit 1.
func (e *env) open() (*store.Store, store.Config, bool) {
	home, err := store.ResolveHome(e.getenv)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error loading configuration: %v\n", err)
		return nil, store.Config{}, false
	}
	cfg, err := store.LoadConfig(home, e.getenv("CODEX_AUTH_SYSTEM_CONFIG_DIR"))
	if err != nil {
		fmt.Fprintf(e.stderr, "Error loading configuration: %v\n", err)
		return nil, store.Config{}, false
	}
	mode := cfg.CredentialsStore
	if e.storeMode != "" {
		mode = store.Mode(e.storeMode)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := store.Open(home, store.Options{Mode: mode, Logger: logger, SecretAuthStorage: cfg.SecretAuthStorage})
	if err != nil {
		fmt.Fprintf(e.stderr, "Error loading configuration: %v\n", err)
		return nil, store.Config{}, false
	}
	return s, cfg, true
}

// login dispatches login, login status and login --with-api-key.
func (e *env) login(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "status" {
		return e.status(ctx, args[1:])
	}
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	withAPIKey := fs.Bool("with-api-key", false, "read an API key from stdin")
	withAccessToken := fs.Bool("with-access-token", false, "read a personal access token from stdin")
	deviceAuth := fs.Bool("device-auth", false, "sign in with a device code")
	f := e.flags()
	fs.StringVar(&f.issuer, "issuer", "", "issuer base URL")
	fs.StringVar(&f.clientID, "client-id", "", "OAuth client id")
	if err := fs.Parse(args); err != nil {
		return fail(e.stderr, 2, "login: %v", err)
	}
	if fs.NArg() > 0 {
		return fail(e.stderr, 2, "login: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *withAPIKey && *withAccessToken:
		return fail(e.stderr, 2, "login: Choose one login credential source: --with-api-key or --with-access-token.")
	case *withAccessToken && *deviceAuth:
		return fail(e.stderr, 2, "login: --with-access-token and --device-auth cannot be used together")
	case *withAccessToken:
		return e.loginAccessToken(ctx, f)
	case *withAPIKey && *deviceAuth:
		return fail(e.stderr, 2, "login: --with-api-key and --device-auth cannot be used together")
	case *deviceAuth:
		return e.loginDevice(ctx, f)
	case !*withAPIKey:
		return e.loginBrowser(ctx, f)
	}
	return e.loginAPIKey(ctx)
}

// loginAPIKey is `login --with-api-key`, with Codex 0.171.0's words.
func (e *env) loginAPIKey(ctx context.Context) int {
	s, cfg, ok := e.open()
	if !ok {
		return 1
	}
	if err := session.PolicyOf(cfg).CheckLogin(session.LoginMethodAPI); err != nil {
		fmt.Fprintln(e.stderr, err)
		return 1
	}
	if isTerminal(e.stdin) {
		fmt.Fprintln(e.stderr, "--with-api-key expects the API key on stdin. Try piping it, e.g. `printenv OPENAI_API_KEY | codex-auth login --with-api-key`.")
		return 1
	}
	fmt.Fprintln(e.stderr, "Reading API key from stdin...")
	data, err := io.ReadAll(io.LimitReader(e.stdin, maxAPIKeyInput+1))
	if err != nil {
		return fail(e.stderr, 1, "reading stdin: %v", err)
	}
	if len(data) > maxAPIKeyInput {
		return fail(e.stderr, 1, "stdin holds more than %d bytes: not an API key", maxAPIKeyInput)
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		fmt.Fprintln(e.stderr, "No API key provided via stdin.")
		return 1
	}
	if bytes.ContainsAny([]byte(key), "\r\n") {
		return fail(e.stderr, 1, "stdin holds more than one line: expected one API key")
	}
	if err := s.Replace(ctx, store.NewAPIKeyRecord(key)); err != nil {
		fmt.Fprintf(e.stderr, "Error logging in: %v\n", err)
		return 1
	}
	fmt.Fprintln(e.stderr, "API key saved. Authentication is checked when you send a request.")
	return 0
}

// logout is `logout`: every store, idempotent, Codex's words.
func (e *env) logout(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("logout", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := e.flags()
	fs.StringVar(&f.issuer, "issuer", "", "issuer base URL")
	fs.StringVar(&f.clientID, "client-id", "", "OAuth client id")
	if err := fs.Parse(args); err != nil {
		return fail(e.stderr, 2, "logout: %v", err)
	}
	if fs.NArg() > 0 {
		return fail(e.stderr, 2, "logout: unexpected argument %q", fs.Arg(0))
	}
	st, err := buildStack(f, e.getenv, e.logger(), hooks{noWatch: true})
	if errors.Is(err, httpclient.ErrCABundle) {
		// The issuer cannot be reached safely, but a logout must still
		// remove the credentials (the Codex CLI does): local only.
		fmt.Fprintf(e.stderr, "Warning: %v; logging out without revoking at the issuer\n", err)
		return e.logoutLocal(ctx)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "Error loading configuration: %v\n", err)
		return 1
	}
	defer st.close()
	if err := st.manager.Start(ctx); err != nil {
		e.logger().Debug("loading credentials before logout", "err", err)
	}
	// Delete every store, then revoke at the issuer, waiting up to 5 s.
	// What was removed from any store (a corrupt file counts) decides
	// Codex's words.
	res, err := st.manager.LogoutAndRevoke(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error logging out: %v\n", err)
		return 1
	}
	return e.loggedOut(res.Existed)
}

// loggedOut prints Codex's words for a finished logout.
func (e *env) loggedOut(existed bool) int {
	if existed {
		fmt.Fprintln(e.stderr, "Successfully logged out")
	} else {
		fmt.Fprintln(e.stderr, "Not logged in")
	}
	return 0
}

// logoutLocal deletes every store without the issuer, with Codex's words.
func (e *env) logoutLocal(ctx context.Context) int {
	s, _, ok := e.open()
	if !ok {
		return 1
	}
	existed, err := s.Delete(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error logging out: %v\n", err)
		return 1
	}
	return e.loggedOut(existed)
}

// isTerminal reports whether r is an interactive terminal: a character
// device other than the null device (portable, without a terminal
// library; the same answer as isatty for the ways stdin is connected).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
