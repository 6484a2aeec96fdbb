package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	Store     store.Mode     `json:"store"`
	Location  string         `json:"location"`
	Fallback  string         `json:"fallback,omitempty"`
	// Error says why the stored record cannot be used.
	Error string `json:"error,omitempty"`
}

// status is `login status`: Codex 0.171.0's words on stderr and exit
// codes (0 logged in, 1 not or unusable), or --json on stdout.
func (e *env) status(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("login status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON on stdout")
	if err := fs.Parse(args); err != nil {
		return fail(e.stderr, 2, "login status: %v", err)
	}
	if fs.NArg() > 0 {
		return fail(e.stderr, 2, "login status: unexpected argument %q", fs.Arg(0))
	}
	s, cfg, ok := e.open()
	if !ok {
		return 1
	}
	rec, err := s.Load(ctx)
	if env := e.envAccessTokenRecord(); env != nil {
		// Codex uses CODEX_ACCESS_TOKEN instead of anything stored.
		rec, err = env, nil
	}
	if err == nil {
		var code int
		var violated bool
		if rec, code, violated, err = e.enforce(ctx, s, session.PolicyOf(cfg).CheckRecord, rec); violated {
			return code
		}
	}
	st, lines, code := describe(rec, err)
	if err == nil && rec != nil && rec.Supported() && (rec.EffectiveMode() == store.AuthModePersonalAccessToken || rec.EffectiveMode() == store.AuthModeAgentIdentity) {
		st, lines, code = e.accessTokenStatus(ctx, rec, cfg)
	}
	loc := s.Location()
	st.Store, st.Location, st.Fallback = loc.Mode, loc.Where, loc.Fallback
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(st); err != nil {
			return fail(e.stderr, 1, "writing status: %v", err)
		}
		return code
	}
	for _, l := range lines {
		fmt.Fprintln(e.stderr, l)
	}
	return code
}

// policyStore is what enforce needs of the store.
type policyStore interface {
	DeleteIf(ctx context.Context, match func(cur *store.Record) bool) (bool, *store.Record, error)
}

// enforce is what Codex does at start: stored credentials that the
// managed policy (check) forbids are logged out of every store, Codex's
// message is printed, and the command exits 1. The check is made again
// under the store's locks (DeleteIf): a compliant login stored since the
// first read (the Codex CLI holds auth.lock across its login) is kept,
// and returned with its load error, to be described instead.
func (e *env) enforce(ctx context.Context, s policyStore, check func(*store.Record) error, rec *store.Record) (*store.Record, int, bool, error) {
	perr := check(rec)
	if perr == nil {
		return rec, 0, false, nil
	}
	deleted, cur, err := s.DeleteIf(ctx, func(cur *store.Record) bool { return check(cur) != nil })
	var ce *store.CorruptError
	switch {
	case err == nil && !deleted:
		return cur, 0, false, nil
	case errors.As(err, &ce):
		return nil, 0, false, err
	}
	fmt.Fprintf(e.stderr, "%v Logging out.\n", perr)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error logging out: %v\n", err)
	}
	return nil, 1, true, nil
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
	}
	st, lines, code := problem(fmt.Sprintf("auth_mode %q is not supported by codex-auth", rec.AuthMode))
	st.Method = rec.AuthMode
	return st, lines, code
}
