package store

import "time"

// Account is what a record says about its account, for display and
// policy; it holds no secret. Fields a record kind does not carry are
// empty.
type Account struct {
	// Mode is the record's effective auth_mode (EffectiveMode).
	Mode AuthMode
	// APIKeyHint is the masked API key (MaskAPIKey) of an API-key record.
	APIKeyHint string
	Email      string
	// Name is a provider's user's name (the name claim, or userinfo's).
	Name     string
	PlanType string
	// UserID is the user id claim (chatgpt_user_id, else user_id); a
	// provider's subject.
	UserID string
	// WorkspaceID is the workspace: for ChatGPT credentials
	// tokens.account_id, else the ID token's chatgpt_account_id claim
	// (Codex's workspace switch rewrites tokens.account_id and the access
	// token but keeps the old ID token: measured with 0.171); for an
	// agent identity its account_id claim.
	WorkspaceID string
	// RuntimeID is an agent identity's agent_runtime_id claim.
	RuntimeID string
	// ExpiresAt is the access token's (or agent identity's) exp; zero when
	// unknown.
	ExpiresAt time.Time
	// ClaimsErr is why the ID token (or agent identity) could not be read;
	// the claims are then empty.
	ClaimsErr error
}

// Account is the account view of the record. A personal access token
// carries no claims (whose it is takes a whoami request); a mode
// codex-auth does not handle gives only Mode.
func (r *Record) Account() Account {
	a := Account{Mode: r.EffectiveMode()}
	switch a.Mode {
	case AuthModeAPIKey:
		if r.APIKey != nil {
			a.APIKeyHint = MaskAPIKey(*r.APIKey)
		}
	case AuthModeAgentIdentity:
		jwt, _ := r.AgentIdentity()
		c, err := ParseAgentIdentity(jwt)
		if err != nil {
			a.ClaimsErr = err
			break
		}
		a.Email, a.PlanType, a.UserID, a.WorkspaceID, a.RuntimeID, a.ExpiresAt = c.Email, c.PlanType, c.UserID, c.AccountID, c.RuntimeID, c.Expires
	case AuthModeOIDC:
		if info, ok := r.OIDC(); ok {
			a.Email, a.Name, a.UserID, a.ExpiresAt = info.Email, info.Name, info.Subject, info.ExpiresAt
		}
	case AuthModeChatGPT:
		t := r.Tokens
		if t == nil {
			break
		}
		if c, err := ParseIDToken(t.IDToken); err != nil {
			a.ClaimsErr = err
		} else {
			a.Email, a.PlanType, a.UserID, a.WorkspaceID = c.Email, c.PlanType, c.UserID, c.AccountID
		}
		if t.AccountID != nil && *t.AccountID != "" {
			a.WorkspaceID = *t.AccountID
		}
		if exp, ok := TokenExpiry(t.AccessToken); ok {
			a.ExpiresAt = exp
		}
	}
	return a
}
