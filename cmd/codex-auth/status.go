package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// statusJSON is `login status --json` on stdout. It never holds a secret.
type statusJSON struct {
	LoggedIn bool `json:"logged_in"`
	// Method is the record's effective auth_mode (possibly one we do not
	// handle); "" when logged out.
	Method    store.AuthMode `json:"method,omitempty"`
	APIKey    string         `json:"api_key,omitempty"`
	Email     string         `json:"email,omitempty"`
	Plan      string         `json:"plan,omitempty"`
	Workspace string         `json:"workspace,omitempty"`
	// Provider, Subject and Name are a provider's sign-in's (method
	// "oidc").
	Provider  string     `json:"provider,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	Name      string     `json:"name,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Store     store.Mode `json:"store"`
	Location  string     `json:"location"`
	Fallback  string     `json:"fallback,omitempty"`
	// Error says why the stored record cannot be used.
	Error string `json:"error,omitempty"`
}

// statusOptions are `login status`'s flags.
type statusOptions struct {
	stack *stackFlags
	// json prints statusJSON on stdout instead of Codex's lines.
	json bool
}

// statusCommand parses `login status`'s flags and runs it.
func statusCommand(ctx context.Context, g globals, args []string) int {
	o := statusOptions{stack: newStackFlags(g, oneShotLogLevel)}
	fs := flag.NewFlagSet("login status", flag.ContinueOnError)
	o.stack.register(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON on stdout")
	if code, ok := parseFlags(fs, g, args); !ok {
		return code
	}
	return runStatus(ctx, g, o)
}

// runStatus is `login status`: Codex 0.171.0's words on stderr and exit
// codes (0 logged in, 1 not or unusable), or --json on stdout. Stored
// credentials the managed policy forbids are logged out by the Manager's
// Start, as Codex does at start: Codex's message, exit 1.
func runStatus(ctx context.Context, g globals, o statusOptions) int {
	ed := &policyEditor{}
	st, release := oneShot(ctx, g, o.stack, hooks{editor: ed})
	if st == nil {
		return 1
	}
	defer release()
	if ed.violation != "" {
		fmt.Fprintln(g.stderr, ed.violation)
		return 1
	}
	rec, err := st.manager.Stored()
	out, lines, code := describe(rec, err)
	if err == nil && rec != nil && (rec.EffectiveMode() == store.AuthModeOIDC) != (st.provider != nil) {
		// A record of the other sign-in where this one keeps its own.
		out, lines, code = describeUnsupported(rec.EffectiveMode())
	}
	if err == nil && rec != nil && rec.Supported() && (rec.EffectiveMode() == store.AuthModePersonalAccessToken || rec.EffectiveMode() == store.AuthModeAgentIdentity) {
		out, lines, code = accessTokenStatus(ctx, st, rec)
	}
	loc := st.manager.Location()
	out.Store, out.Location, out.Fallback = loc.Mode, loc.Where, loc.Fallback
	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return fail(g.stderr, 1, "writing status: %v", err)
		}
		return code
	}
	for _, l := range lines {
		fmt.Fprintln(g.stderr, l)
	}
	return code
}

// policyEditor is the CLI as the session's editor at `login status`: it
// keeps the message of a policy violation (Codex's words, "... Logging
// out.").
type policyEditor struct {
	session.NoEditor
	violation string
}

func (p *policyEditor) SessionInvalidated(i session.Invalidation) {
	if i.Reason == session.ReasonPolicyViolation {
		p.violation = i.Message
	}
}

// describe turns what Load returned into the status, Codex's lines and the
// exit code.
func describe(rec *store.Record, err error) (statusJSON, []string, int) {
	problem := func(msg string) (statusJSON, []string, int) {
		return statusJSON{Error: msg}, []string{"Error checking login status: " + msg}, 1
	}
	var ce *store.CorruptError
	switch {
	case errors.As(err, &ce):
		return problem(ce.Error())
	case err != nil:
		return problem(err.Error())
	case rec == nil:
		return statusJSON{}, []string{"Not logged in"}, 1
	}
	a := rec.Account()
	switch a.Mode {
	case store.AuthModeAPIKey:
		if rec.APIKey == nil {
			return problem("API key auth is missing a key.")
		}
		return statusJSON{LoggedIn: true, Method: store.AuthModeAPIKey, APIKey: a.APIKeyHint},
			[]string{"API key configured - " + a.APIKeyHint, "Authentication is checked when you send a request."}, 0
	case store.AuthModeChatGPT:
		if a.ClaimsErr != nil {
			return problem("the stored ID token is not a valid JWT")
		}
		st := statusJSON{LoggedIn: true, Method: store.AuthModeChatGPT, Email: a.Email, Plan: a.PlanType, Workspace: a.WorkspaceID}
		if !a.ExpiresAt.IsZero() {
			st.ExpiresAt = &a.ExpiresAt
		}
		return st, []string{"Logged in using ChatGPT"}, 0
	case store.AuthModeOIDC:
		if !rec.Supported() {
			return problem("the stored provider record has no access token or subject")
		}
		info, _ := rec.OIDC()
		st := statusJSON{LoggedIn: true, Method: store.AuthModeOIDC, Provider: info.Provider, Subject: info.Subject, Email: info.Email, Name: info.Name}
		if !a.ExpiresAt.IsZero() {
			st.ExpiresAt = &a.ExpiresAt
		}
		who := info.Subject
		if info.Email != "" {
			who = info.Email
		}
		return st, []string{fmt.Sprintf("Logged in to %s (%s) as %s", info.Provider, info.Issuer, who)}, 0
	}
	return describeUnsupported(rec.AuthMode)
}

// describeUnsupported is the status of a record of a mode codex-auth
// does not use (here).
func describeUnsupported(mode store.AuthMode) (statusJSON, []string, int) {
	msg := fmt.Sprintf("auth_mode %q is not supported by codex-auth", mode)
	return statusJSON{Method: mode, Error: msg}, []string{"Error checking login status: " + msg}, 1
}
