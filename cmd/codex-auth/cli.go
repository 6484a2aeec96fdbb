package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/codex-auth/codex-auth/store"
)

// version is stamped at link time: -ldflags "-X main.version=v1.2.3".
var version string

const usage = `usage: codex-auth [--store MODE] [--provider NAME] COMMAND

commands:
  serve                   run the JSON-RPC sidecar on stdio (editors start it)
  login                   sign in with ChatGPT in the browser
  login --device-auth     sign in with ChatGPT using a device code
  login --with-api-key    save an API key read from stdin
  login --with-access-token
                          save a personal access token (at-…) read from stdin
  login status [--json]   show the stored credentials
  logout                  remove the stored credentials from every store
  logout --account ACCOUNT
                          log out one saved account (email or session id)
  accounts [--json]       list the saved accounts (* = active)
  switch [ACCOUNT]        make a saved account the active one, in place
                          (email or session id; on a terminal, a numbered pick)
  token [--refresh] [--force]
                          print the access token (for scripts: not on a terminal
                          unless --force)
  logout --account ACCOUNT
                          log out one saved account (email or session id)
  accounts [--json]       list the saved accounts (* = active)
  switch [ACCOUNT]        make a saved account the active one, in place
                          (email or session id; on a terminal, a numbered pick)
  version                 print the version
  dev issuer [flags]      run the local issuer (docs/local-issuer.md)

--store MODE overrides cli_auth_credentials_store (file, keyring, auto, ephemeral).
--provider NAME (or CODEX_AUTH_PROVIDER) signs in to the OpenID provider
[codex_auth.providers.NAME] of config.toml instead of Codex: serve, login
[--device-auth], login status, logout and token then use its own record,
never Codex's credentials.
serve, login, login status, logout, token, accounts and switch also take
--issuer, --client-id,
--log-level and --log-file (see codex-auth COMMAND --help).
`

// globals is what every command runs with: the process's files and
// environment, and the global flags.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// store is --store, "" when not given.
	store string
	// provider is --provider, "" when not given (CODEX_AUTH_PROVIDER
	// then, see loadSetup).
	provider string
}

// command parses a verb's arguments into its options and runs it.
type command func(ctx context.Context, g globals, args []string) int

// commands are the verbs; `login status` is dispatched by login.
var commands = map[string]command{
	"serve":    serveCommand,
	"login":    loginCommand,
	"logout":   logoutCommand,
	"accounts": accountsCommand,
	"switch":   switchCommand,
	"token":    tokenCommand,
	"dev": func(ctx context.Context, g globals, args []string) int {
		return runDev(ctx, args, g.stdin, g.stdout, g.stderr)
	},
}

// run is the whole command line; main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("codex-auth", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g := globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	fs.StringVar(&g.store, "store", "", "credentials store: file, keyring, auto or ephemeral")
	fs.StringVar(&g.provider, "provider", "", "the OpenID provider to sign in to ([codex_auth.providers.NAME])")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return fail(stderr, 2, "%v (see codex-auth --help)", err)
	}
	if g.store != "" {
		if _, err := store.ParseMode(g.store); err != nil {
			return fail(stderr, 2, "--store: %v", err)
		}
	}
	if g.provider != "" {
		if err := store.CheckProviderName(g.provider); err != nil {
			return fail(stderr, 2, "--provider: %v", err)
		}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name, rest := rest[0], rest[1:]
	if cmd, ok := commands[name]; ok {
		return cmd(ctx, g, rest)
	}
	switch name {
	case "version", "--version":
		fmt.Fprintln(stdout, "codex-auth "+versionString())
		return 0
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	return fail(stderr, 2, "unknown command %q (see codex-auth --help)", name)
}

// parseFlags parses a verb's flags, which takes no positional argument.
// ok false: the error is printed (exit 2), or --help was asked (usage
// printed, exit 0): code says which.
func parseFlags(fs *flag.FlagSet, g globals, args []string) (code int, ok bool) {
	return parseFlagsArgs(fs, g, args, 0)
}

// parseFlagsArgs is parseFlags for a verb that takes up to maxArgs
// positional arguments (fs.Args()).
func parseFlagsArgs(fs *flag.FlagSet, g globals, args []string, maxArgs int) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(g.stdout)
		fmt.Fprintf(g.stdout, "usage of codex-auth %s:\n", fs.Name())
		fs.PrintDefaults()
		return 0, false
	case err != nil:
		return fail(g.stderr, 2, "%s: %v", fs.Name(), err), false
	case fs.NArg() > maxArgs:
		return fail(g.stderr, 2, "%s: unexpected argument %q", fs.Name(), fs.Arg(maxArgs)), false
	}
	return 0, true
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

// isTerminal reports whether f (stdin or stdout) is an interactive
// terminal: a character device other than the null device (portable,
// without a terminal library; the same answer as isatty for the ways
// stdin and stdout are connected).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
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
