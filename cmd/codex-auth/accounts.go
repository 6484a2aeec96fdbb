package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
)

// accountsOptions are `accounts`' flags.
type accountsOptions struct {
	stack *stackFlags
	// json prints the list as accountSession/list answers it, on stdout.
	json bool
}

// accountsCommand parses `accounts`' flags and runs it.
func accountsCommand(ctx context.Context, g globals, args []string) int {
	o := accountsOptions{stack: newStackFlags(g, oneShotLogLevel)}
	fs := flag.NewFlagSet("accounts", flag.ContinueOnError)
	o.stack.register(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON on stdout (accountSession/list's result)")
	if code, ok := parseFlags(fs, g, args); !ok {
		return code
	}
	return runAccounts(ctx, g, o)
}

// runAccounts is `accounts`: the saved accounts on stdout, the active one
// marked; saved accounts that cannot be read are warned about on stderr.
func runAccounts(ctx context.Context, g globals, o accountsOptions) int {
	st, release := oneShot(ctx, g, o.stack, hooks{})
	if st == nil {
		return 1
	}
	defer release()
	l, err := st.manager.Accounts(ctx)
	if err != nil {
		fmt.Fprintf(g.stderr, "Error listing the saved accounts: %v\n", err)
		return 1
	}
	warnProblems(g, l)
	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rpc.AccountSessionListOf(l)); err != nil {
			return fail(g.stderr, 1, "writing the accounts: %v", err)
		}
		return 0
	}
	if len(l.Accounts) == 0 {
		fmt.Fprintln(g.stdout, "No saved accounts.")
		return 0
	}
	fmt.Fprintln(g.stdout, "Saved accounts (* = active):")
	printAccounts(g.stdout, l, false)
	return 0
}

// printAccounts writes one line per account: the mark of the active one
// (or its number), who it is, its kind, its id, and what stops it.
func printAccounts(w io.Writer, l session.AccountList, numbered bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, a := range l.Accounts {
		mark := " "
		if a.SessionID == l.ActiveID {
			mark = "*"
		}
		if numbered {
			mark = fmt.Sprintf("%s%d)", mark, i+1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", mark, accountLabel(a), accountKind(a), a.SessionID, accountNote(a))
	}
	_ = tw.Flush()
}

// accountLabel is who an account is: its email, else its key's mask.
func accountLabel(a session.SavedAccount) string {
	switch {
	case a.Email != "":
		return a.Email
	case a.APIKeyHint != "":
		return a.APIKeyHint
	}
	return "(access token)"
}

// accountKind is its kind, plan and workspace.
func accountKind(a session.SavedAccount) string {
	switch a.Type {
	case session.AccountAPIKey:
		return "API key"
	case session.AccountChatGPT:
		parts := []string{"ChatGPT"}
		if a.PlanType != "" {
			parts = append(parts, a.PlanType)
		}
		if a.SelectedWorkspaceID != "" {
			parts = append(parts, "workspace "+a.SelectedWorkspaceID)
		}
		return strings.Join(parts, ", ")
	}
	return "access token"
}

// accountNote says why an account cannot be switched to now.
func accountNote(a session.SavedAccount) string {
	switch {
	case a.Forbidden != "":
		return "forbidden by policy: " + a.Forbidden
	case a.NeedsLogin:
		return "needs a new sign-in"
	}
	return ""
}

func warnProblems(g globals, l session.AccountList) {
	for _, p := range l.Problems {
		fmt.Fprintf(g.stderr, "Warning: a saved account cannot be read and is skipped: %s\n", p)
	}
}

// switchOptions are `switch`'s flags and its argument.
type switchOptions struct {
	stack *stackFlags
	// account is the email or session id ("" asks, on a terminal).
	account string
}

// switchCommand parses `switch [ACCOUNT]` and runs it.
func switchCommand(ctx context.Context, g globals, args []string) int {
	o := switchOptions{stack: newStackFlags(g, oneShotLogLevel)}
	fs := flag.NewFlagSet("switch", flag.ContinueOnError)
	o.stack.register(fs)
	if code, ok := parseFlagsArgs(fs, g, args, 1); !ok {
		return code
	}
	o.account = fs.Arg(0)
	if o.account == "" && !isTerminal(g.stdin) {
		return fail(g.stderr, 2, "switch: name the account to switch to (its email or session id; codex-auth accounts lists them)")
	}
	return runSwitch(ctx, g, o)
}

// runSwitch is `switch`: the chosen saved account becomes the active one,
// in place (the Codex CLI and every sidecar follow). Without an account
// it lists them and reads a number from the terminal.
func runSwitch(ctx context.Context, g globals, o switchOptions) int {
	st, release := oneShot(ctx, g, o.stack, hooks{})
	if st == nil {
		return 1
	}
	defer release()
	ref := o.account
	if ref == "" {
		l, err := st.manager.Accounts(ctx)
		if err != nil {
			fmt.Fprintf(g.stderr, "Error listing the saved accounts: %v\n", err)
			return 1
		}
		warnProblems(g, l)
		var code int
		if ref, code = pickAccount(g.stdin, g.stderr, l); ref == "" {
			return code
		}
	}
	l, err := st.manager.SwitchAccount(ctx, ref)
	if err != nil {
		fmt.Fprintf(g.stderr, "Error switching accounts: %v\n", err)
		return 1
	}
	for _, a := range l.Accounts {
		if a.SessionID == l.ActiveID {
			fmt.Fprintf(g.stderr, "Switched to %s (%s)\n", accountLabel(a), accountKind(a))
			return 0
		}
	}
	fmt.Fprintln(g.stderr, "Switched")
	return 0
}

// pickAccount shows the accounts numbered on out and reads a number from
// in; the chosen account's session id, or "" and an exit code.
func pickAccount(in io.Reader, out io.Writer, l session.AccountList) (string, int) {
	if len(l.Accounts) == 0 {
		fmt.Fprintln(out, "No saved accounts: sign in first (codex-auth login).")
		return "", 1
	}
	fmt.Fprintln(out, "Saved accounts (* = active):")
	printAccounts(out, l, true)
	fmt.Fprintf(out, "Switch to which account? [1-%d]: ", len(l.Accounts))
	line, err := bufio.NewReader(io.LimitReader(in, 64)).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "No account chosen.")
		return "", 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || n < 1 || n > len(l.Accounts) {
		fmt.Fprintf(out, "Not a number from 1 to %d.\n", len(l.Accounts))
		return "", 2
	}
	return l.Accounts[n-1].SessionID, 0
}
