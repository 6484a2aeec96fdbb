package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// envAccessToken is Codex's: an access token in the environment, used
// instead of any stored record (measured with 0.171.0: it wins over a
// stored API key too).
const envAccessToken = "CODEX_ACCESS_TOKEN"

// loginWithAccessToken is `login --with-access-token`: the token from
// stdin (a terminal is refused), checked with whoami and stored as Codex
// does.
func loginWithAccessToken(ctx context.Context, g globals, o loginOptions) int {
	if isTerminal(g.stdin) {
		fmt.Fprintln(g.stderr, "--with-access-token expects the access token on stdin. Try piping it, e.g. `printenv CODEX_ACCESS_TOKEN | codex-auth login --with-access-token`.")
		return 1
	}
	st, release := oneShot(ctx, g, o.stack, hooks{})
	if st == nil {
		return 1
	}
	defer release()
	fmt.Fprintln(g.stderr, "Reading access token from stdin...")
	token, code, ok := readSecret(g, "access token", "No access token provided via stdin.")
	if !ok {
		return code
	}
	if err := st.manager.LoginAccessToken(ctx, token); err != nil {
		// Codex prints this one policy message bare.
		return loginFailed(g, err, "Error logging in with access token", func(policy string) bool {
			return policy == "Access token login is disabled. Use API key login instead."
		})
	}
	fmt.Fprintln(g.stderr, "Successfully logged in")
	return 0
}

// accessTokenStatus is `login status` for an access-token record, as
// Codex 0.171.0 prints it: a personal access token is looked up with
// whoami (an error when that fails); forced_login_method "api" hides it
// ("Not logged in"); a forced workspace must match (else an error; the
// record is kept either way). An agent identity is shown from its claims:
// Codex checks its signature online first, codex-auth cannot.
func accessTokenStatus(ctx context.Context, st *stack, rec *store.Record) (statusJSON, []string, int) {
	problem := func(msg string) (statusJSON, []string, int) {
		return statusJSON{Method: rec.EffectiveMode(), Error: msg}, []string{"Error checking login status: " + msg}, 1
	}
	p := session.PolicyOf(st.config)
	if p.CheckLogin(session.LoginMethodAccessToken) != nil {
		return statusJSON{}, []string{"Not logged in"}, 1
	}
	out := statusJSON{LoggedIn: true, Method: rec.EffectiveMode()}
	if rec.EffectiveMode() == store.AuthModeAgentIdentity {
		a := rec.Account()
		if a.ClaimsErr != nil {
			return problem("failed to decode agent identity JWT")
		}
		if err := p.CheckAccessTokenWorkspace(a.WorkspaceID); err != nil {
			return problem(err.Error())
		}
		out.Email, out.Plan, out.Workspace = a.Email, a.PlanType, a.WorkspaceID
		if !a.ExpiresAt.IsZero() {
			out.ExpiresAt = &a.ExpiresAt
		}
		return out, []string{"Logged in using access token"}, 0
	}
	token, _ := rec.PersonalAccessToken()
	info, err := st.authAPI.Whoami(ctx, token)
	if err != nil {
		return problem(err.Error())
	}
	if err := p.CheckAccessTokenWorkspace(info.WorkspaceID); err != nil {
		return problem(err.Error())
	}
	out.Email, out.Plan, out.Workspace = info.Email, info.PlanType, info.WorkspaceID
	return out, []string{"Logged in using personal access token"}, 0
}

// envAccessTokenRecord is the record CODEX_ACCESS_TOKEN stands for, or nil.
func envAccessTokenRecord(getenv func(string) string) *store.Record {
	t := strings.TrimSpace(getenv(envAccessToken))
	if t == "" {
		return nil
	}
	if store.IsPersonalAccessToken(t) {
		return store.NewPersonalAccessTokenRecord(t)
	}
	return store.NewAgentIdentityRecord(t)
}
