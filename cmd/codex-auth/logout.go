package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/codex-auth/codex-auth/session"
)

// logoutOptions are `logout`'s flags.
type logoutOptions struct {
	stack *stackFlags
	// account names a saved account to log out instead of the active one
	// (its email or session id).
	account string
}

// logoutCommand parses `logout`'s flags and runs it.
func logoutCommand(ctx context.Context, g globals, args []string) int {
	o := logoutOptions{stack: newStackFlags(g, oneShotLogLevel)}
	fs := flag.NewFlagSet("logout", flag.ContinueOnError)
	o.stack.register(fs)
	fs.StringVar(&o.account, "account", "", "log out this saved account (its email or session id) instead of the active one")
	if code, ok := parseFlags(fs, g, args); !ok {
		return code
	}
	return runLogout(ctx, g, o)
}

// runLogout is `logout`: every store, idempotent, Codex's words. The
// credentials are deleted first, then revoked at the issuer (waiting up
// to 5 s); what was removed from any store (a corrupt file counts)
// decides the words. With --account, that saved account is logged out
// (revoked, its copy removed); the active one as without it.
func runLogout(ctx context.Context, g globals, o logoutOptions) int {
	st, release := oneShot(ctx, g, o.stack, hooks{})
	if st == nil {
		return 1
	}
	defer release()
	if st.netErr != nil {
		// The issuer cannot be reached safely, but a logout must still
		// remove the credentials (the Codex CLI does).
		fmt.Fprintf(g.stderr, "Warning: %v; logging out without revoking at the issuer\n", st.netErr)
	}
	var res session.LogoutResult
	var err error
	if o.account != "" {
		res, err = st.manager.LogoutAccountAndRevoke(ctx, o.account)
	} else {
		res, err = st.manager.LogoutAndRevoke(ctx)
	}
	if err != nil {
		fmt.Fprintf(g.stderr, "Error logging out: %v\n", err)
		return 1
	}
	if res.Existed {
		fmt.Fprintln(g.stderr, "Successfully logged out")
	} else {
		fmt.Fprintln(g.stderr, "Not logged in")
	}
	return 0
}
