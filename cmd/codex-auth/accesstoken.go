package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// envAccessToken is Codex's: an access token in the environment, used
// instead of any stored record (measured with 0.171.0: it wins over a
// stored API key too).
const envAccessToken = "CODEX_ACCESS_TOKEN"

// loginAccessToken is `login --with-access-token`: the token from stdin (a
// terminal is refused), checked with whoami and stored as Codex does.
func (e *env) loginAccessToken(ctx context.Context, f stackFlags) int {
	if isTerminal(e.stdin) {
		fmt.Fprintln(e.stderr, "--with-access-token expects the access token on stdin. Try piping it, e.g. `printenv CODEX_ACCESS_TOKEN | codex-auth login --with-access-token`.")
		return 1
	}
	st, err := buildStack(f, e.getenv, e.logger(), hooks{noWatch: true})
	if err != nil {
		fmt.Fprintf(e.stderr, "Error loading configuration: %v\n", err)
		return 1
	}
	defer st.close()
	fmt.Fprintln(e.stderr, "Reading access token from stdin...")
	data, err := io.ReadAll(io.LimitReader(e.stdin, maxAPIKeyInput+1))
	if err != nil {
		return fail(e.stderr, 1, "reading stdin: %v", err)
	}
	if len(data) > maxAPIKeyInput {
		return fail(e.stderr, 1, "stdin holds more than %d bytes: not an access token", maxAPIKeyInput)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		fmt.Fprintln(e.stderr, "No access token provided via stdin.")
		return 1
	}
	if bytes.ContainsAny([]byte(token), "\r\n") {
		return fail(e.stderr, 1, "stdin holds more than one line: expected one access token")
	}
	if err := st.manager.Start(ctx); err != nil {
		e.logger().Debug("loading credentials before login", "err", err)
	}
	if err := st.manager.LoginAccessToken(ctx, token); err != nil {
		var pe *session.PolicyError
		if errors.As(err, &pe) && pe.Message == "Access token login is disabled. Use API key login instead." {
			fmt.Fprintln(e.stderr, pe.Message) // Codex prints this one bare
			return 1
		}
		fmt.Fprintf(e.stderr, "Error logging in with access token: %v\n", err)
		return 1
	}
	fmt.Fprintln(e.stderr, "Successfully logged in")
	return 0
}

// accessTokenStatus is `login status` for an access-token record, as
// Codex 0.171.0 prints it: a personal access token is looked up with
// whoami (an error when that fails); forced_login_method "api" hides it
// ("Not logged in"); a forced workspace must match (else an error; the
// record is kept either way). An agent identity is shown from its claims:
// Codex checks its signature online first, codex-auth cannot.
func (e *env) accessTokenStatus(ctx context.Context, rec *store.Record, cfg store.Config) (statusJSON, []string, int) {
	problem := func(msg string) (statusJSON, []string, int) {
		return statusJSON{Method: rec.EffectiveMode(), Error: msg}, []string{"Error checking login status: " + msg}, 1
	}
	p := session.PolicyOf(cfg)
	if p.CheckLogin(session.LoginMethodAccessToken) != nil {
		return statusJSON{}, []string{"Not logged in"}, 1
	}
	st := statusJSON{LoggedIn: true, Method: rec.EffectiveMode()}
	if rec.EffectiveMode() == store.AuthModeAgentIdentity {
		a := rec.Account()
		if a.ClaimsErr != nil {
			return problem("failed to decode agent identity JWT")
		}
		if err := p.CheckAccessTokenWorkspace(a.WorkspaceID); err != nil {
			return problem(err.Error())
		}
		st.Email, st.Plan, st.Workspace = a.Email, a.PlanType, a.WorkspaceID
		if !a.ExpiresAt.IsZero() {
			st.ExpiresAt = &a.ExpiresAt
		}
		return st, []string{"Logged in using access token"}, 0
	}
	token, _ := rec.PersonalAccessToken()
	info, err := e.whoami(ctx, token)
	if err != nil {
		return problem(err.Error())
	}
	if err := p.CheckAccessTokenWorkspace(info.WorkspaceID); err != nil {
		return problem(err.Error())
	}
	st.Email, st.Plan, st.Workspace = info.Email, info.PlanType, info.WorkspaceID
	return st, []string{"Logged in using personal access token"}, 0
}

// whoami asks the account API (CODEX_AUTHAPI_BASE_URL, else the issuer's)
// about a personal access token.
func (e *env) whoami(ctx context.Context, token string) (session.AccessTokenInfo, error) {
	f := e.flags()
	st, err := buildStack(f, e.getenv, e.logger(), hooks{noWatch: true})
	if err != nil {
		return session.AccessTokenInfo{}, err
	}
	defer st.close()
	return st.authAPI.Whoami(ctx, token)
}

// envAccessTokenRecord is the record CODEX_ACCESS_TOKEN stands for, or nil.
func (e *env) envAccessTokenRecord() *store.Record { return envAccessTokenRecord(e.getenv) }

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
