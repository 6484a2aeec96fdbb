package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/codex-auth/codex-auth/session"
)

// tokenOptions are `token`'s flags.
type tokenOptions struct {
	stack *stackFlags
	// refresh forces a refresh first.
	refresh bool
	// force prints the token on a terminal too.
	force bool
}

// tokenCommand parses `token`'s flags and runs it.
func tokenCommand(ctx context.Context, g globals, args []string) int {
	o := tokenOptions{stack: newStackFlags(g, oneShotLogLevel)}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	o.stack.register(fs)
	fs.BoolVar(&o.refresh, "refresh", false, "refresh the token first")
	fs.BoolVar(&o.force, "force", false, "print the token even when stdout is a terminal")
	if code, ok := parseFlags(fs, g, args); !ok {
		return code
	}
	return runToken(ctx, g, o)
}

// runToken is `token`: the access token (refreshed when it is about to
// expire, or with --refresh) on stdout for a script, as account/token
// gives it: a provider's or ChatGPT's access token, a personal access
// token, or the API key. It refuses to print on a terminal, where the
// secret would stay on screen and in scroll-back, unless --force.
func runToken(ctx context.Context, g globals, o tokenOptions) int {
	if !o.force && isTerminal(g.stdout) {
		return fail(g.stderr, 1, "token: stdout is a terminal; the token is for scripts (pipe it, e.g. `codex-auth token | …`, or pass --force)")
	}
	st, release := oneShot(ctx, g, o.stack, hooks{})
	if st == nil {
		return 1
	}
	defer release()
	tok, err := st.manager.Token(ctx, o.refresh)
	switch {
	case errors.Is(err, session.ErrNotLoggedIn):
		fmt.Fprintln(g.stderr, "Not logged in")
		return 1
	case err != nil:
		fmt.Fprintf(g.stderr, "Error getting the token: %v\n", err)
		return 1
	}
	secret := tok.AccessToken
	if tok.Type == session.AccountAPIKey {
		secret = tok.APIKey
	}
	fmt.Fprintln(g.stdout, secret)
	return 0
}
