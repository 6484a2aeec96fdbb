package session

import (
	"slices"
	"strings"

	"github.com/codex-auth/codex-auth/store"
)

// LoginMethod is a way of signing in, as forced_login_method names it.
type LoginMethod string

// Login methods as forced_login_method names them.
const (
	LoginMethodChatGPT LoginMethod = "chatgpt"
	LoginMethodAPI     LoginMethod = "api"
	// LoginMethodAccessToken is `login --with-access-token`; Codex counts
	// it as a ChatGPT login for forced_login_method (measured with 0.171).
	LoginMethodAccessToken LoginMethod = "accessToken"
)

// PolicyOf is the policy a configuration puts in force.
func PolicyOf(cfg store.Config) Policy {
	return Policy{
		ForcedLoginMethod:  LoginMethod(cfg.ForcedLoginMethod),
		ForcedWorkspaceIDs: slices.Clone(cfg.ForcedWorkspaceIDs),
	}
}

// CheckLogin refuses a login the policy forbids, with Codex's wording.
// method is LoginMethodChatGPT (browser and device code) or LoginMethodAPI.
func (p Policy) CheckLogin(method LoginMethod) error {
	switch {
	case p.ForcedLoginMethod == LoginMethodAPI && method == LoginMethodChatGPT:
		return &PolicyError{Message: "ChatGPT login is disabled. Use API key login instead."}
	case p.ForcedLoginMethod == LoginMethodChatGPT && method == LoginMethodAPI:
		return &PolicyError{Message: "API key login is disabled. Use ChatGPT login instead."}
	case p.ForcedLoginMethod == LoginMethodAPI && method == LoginMethodAccessToken:
		return &PolicyError{Message: "Access token login is disabled. Use API key login instead."}
	}
	return nil
}

// CheckAccessTokenWorkspace refuses an access token whose workspace (as
// whoami or the agent identity says) is not one of ForcedWorkspaceIDs,
// with Codex 0.171's wording for access tokens (measured), which differs
// from its ChatGPT wording.
func (p Policy) CheckAccessTokenWorkspace(accountID string) error {
	if len(p.ForcedWorkspaceIDs) == 0 || slices.Contains(p.ForcedWorkspaceIDs, accountID) {
		return nil
	}
	return &PolicyError{Message: "Login is restricted to workspace id(s) " + strings.Join(p.ForcedWorkspaceIDs, ", ") + "."}
}

// CheckWorkspace refuses ChatGPT credentials whose workspace (see
// store.Account.WorkspaceID) is not one of ForcedWorkspaceIDs, with Codex's
// wording. Any workspace is allowed when none is forced.
func (p Policy) CheckWorkspace(accountID string) error {
	if len(p.ForcedWorkspaceIDs) == 0 || slices.Contains(p.ForcedWorkspaceIDs, accountID) {
		return nil
	}
	allowed := strings.Join(p.ForcedWorkspaceIDs, ", ")
	if accountID == "" {
		return &PolicyError{Message: "Login is restricted to workspace(s) " + allowed +
			", but current credentials lack a workspace identifier."}
	}
	return &PolicyError{Message: "Login is restricted to workspace(s) " + allowed +
		", but current credentials belong to " + accountID + "."}
}

// CheckRecord checks stored credentials against the policy (at start and
// whenever the record changes): the login method, then the workspace of
// ChatGPT credentials. nil and records of modes codex-auth does not handle
// pass: they are reported elsewhere. Access-token records pass too: Codex
// never logs them out for the policy, it hides them (see
// Manager.accessTokenPolicy).
func (p Policy) CheckRecord(rec *store.Record) error {
	if rec == nil || !rec.Supported() {
		return nil
	}
	switch rec.EffectiveMode() {
	case store.AuthModeAPIKey:
		return p.CheckLogin(LoginMethodAPI)
	case store.AuthModeChatGPT:
		if err := p.CheckLogin(LoginMethodChatGPT); err != nil {
			return err
		}
		return p.CheckWorkspace(rec.Account().WorkspaceID)
	case store.AuthModeOIDC:
		return p.CheckProvider()
	}
	return nil
}
