package rpc

import (
	"encoding/json"
	"time"

	"github.com/codex-auth/codex-auth/session"
)

// ProtocolVersion is the version of the codex-auth protocol this server
// speaks (docs/protocol.md). A client stating another major version in
// initializationOptions.protocolVersion gets CodeIncompatibleProtocol.
const ProtocolVersion = "1"

// Method names: requests the client sends, notifications the server sends.
const (
	MethodInitialize         = "initialize"
	MethodInitialized        = "initialized"
	MethodShutdown           = "shutdown"
	MethodExit               = "exit"
	MethodCancelRequest      = "$/cancelRequest"
	MethodAccountRead        = "account/read"
	MethodLoginStart         = "account/login/start"
	MethodLoginCancel        = "account/login/cancel"
	MethodLogout             = "account/logout"
	MethodToken              = "account/token"
	MethodAccountList        = "accountSession/list"
	MethodAccountSwitch      = "accountSession/switch"
	MethodAccountLogout      = "accountSession/logout"
	MethodAccountForget      = "accountSession/forget"
	MethodAccountUpdated     = "account/updated"
	MethodLoginCompleted     = "account/login/completed"
	MethodSessionInvalidated = "account/sessionInvalidated"
	MethodAccountsUpdated    = "accountSession/updated"
	MethodShowDocument       = "window/showDocument"
)

// Login types of account/login/start.
const (
	LoginTypeAPIKey            = "apiKey"
	LoginTypeAccessToken       = "accessToken"
	LoginTypeChatGPT           = "chatgpt"
	LoginTypeChatGPTDeviceCode = "chatgptDeviceCode"
)

// accountMethods are the requests announced in initialize.
var accountMethods = []string{MethodAccountRead, MethodLoginStart, MethodLoginCancel, MethodLogout, MethodToken,
	MethodAccountList, MethodAccountSwitch, MethodAccountLogout, MethodAccountForget}

// accountNotifications are the notifications announced in initialize.
var accountNotifications = []string{MethodAccountUpdated, MethodLoginCompleted, MethodSessionInvalidated, MethodAccountsUpdated}

// CodexAuthCapabilities is capabilities.experimental.codexAuth in the
// initialize result.
type CodexAuthCapabilities struct {
	ProtocolVersion string   `json:"protocolVersion"`
	Methods         []string `json:"methods"`
	Notifications   []string `json:"notifications"`
	// Provider names the OpenID provider signed in to; absent for
	// Codex's sign-in.
	Provider *ProviderWire `json:"provider,omitempty"`
}

// InitializationOptions is initialize's initializationOptions.
type InitializationOptions struct {
	// ProtocolVersion is the version the client speaks ("1"); absent is
	// accepted.
	ProtocolVersion *string `json:"protocolVersion"`
}

// AccountReadParams are account/read's params.
type AccountReadParams struct {
	// RefreshToken asks for a refresh before answering; without it the
	// answer comes from memory.
	RefreshToken bool `json:"refreshToken"`
}

// AccountReadResult is account/read's result. It never holds a secret.
type AccountReadResult struct {
	// Account is null when logged out.
	Account            *Account `json:"account"`
	RequiresOpenAIAuth bool     `json:"requiresOpenaiAuth"`
	Store              Store    `json:"store"`
	// Issuer is set only when the issuer is not OpenAI's.
	Issuer string `json:"issuer,omitempty"`
	// Provider is set only when a provider is signed in to.
	Provider *ProviderWire `json:"provider,omitempty"`
	Policy   Policy        `json:"policy"`
	Problem  string        `json:"problem,omitempty"`
	// Warning: something the user should know that does not stop the
	// session (changes made elsewhere are not being noticed).
	Warning string `json:"warning,omitempty"`
}

// Account is {type:"apiKey", apiKeyHint}, {type:"chatgpt" |
// "agentIdentity", email, planType, workspaceId, expiresAt} or
// {type:"personalAccessToken", email, planType, workspaceId}:
// MarshalJSON writes only the fields of its type.
type Account struct {
	Type        string
	APIKeyHint  string
	Email       string
	PlanType    string
	WorkspaceID string
	// Subject and Name are a provider's user ({type:"oidc", subject,
	// email?, name?, expiresAt}).
	Subject string
	Name    string
	// ExpiresAt is RFC 3339 UTC; nil (null) when unknown.
	ExpiresAt *string
}

// MarshalJSON writes the fields of the account's type.
func (a Account) MarshalJSON() ([]byte, error) {
	if a.Type == string(session.AccountOIDC) {
		return marshalOIDCAccount(a)
	}
	if a.Type == string(session.AccountAPIKey) {
		return json.Marshal(struct {
			Type       string `json:"type"`
			APIKeyHint string `json:"apiKeyHint"`
		}{a.Type, a.APIKeyHint})
	}
	if a.Type == string(session.AccountPersonalAccessToken) {
		return json.Marshal(struct {
			Type        string `json:"type"`
			Email       string `json:"email"`
			PlanType    string `json:"planType"`
			WorkspaceID string `json:"workspaceId"`
		}{a.Type, a.Email, a.PlanType, a.WorkspaceID})
	}
	return json.Marshal(struct {
		Type        string  `json:"type"`
		Email       string  `json:"email"`
		PlanType    string  `json:"planType"`
		WorkspaceID string  `json:"workspaceId"`
		ExpiresAt   *string `json:"expiresAt"`
	}{a.Type, a.Email, a.PlanType, a.WorkspaceID, a.ExpiresAt})
}

// UnmarshalJSON reads either shape (for clients and tests in Go).
func (a *Account) UnmarshalJSON(b []byte) error {
	var v struct {
		Type        string  `json:"type"`
		APIKeyHint  string  `json:"apiKeyHint"`
		Email       string  `json:"email"`
		PlanType    string  `json:"planType"`
		WorkspaceID string  `json:"workspaceId"`
		Subject     string  `json:"subject"`
		Name        string  `json:"name"`
		ExpiresAt   *string `json:"expiresAt"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Account(v)
	return nil
}

// Store says where the credentials live.
type Store struct {
	Mode     string `json:"mode"`
	Location string `json:"location"`
	Fallback string `json:"fallback,omitempty"`
}

// Policy is the managed policy in force.
type Policy struct {
	// ForcedLoginMethod is "chatgpt", "api" or null.
	ForcedLoginMethod *string `json:"forcedLoginMethod"`
	// ForcedWorkspaceIDs is never null; empty means any workspace.
	ForcedWorkspaceIDs []string `json:"forcedWorkspaceIds"`
}

// LoginStartParams are account/login/start's params.
type LoginStartParams struct {
	Type        *string `json:"type"`
	APIKey      *string `json:"apiKey"`
	AccessToken *string `json:"accessToken"`
}

// LoginAPIKeyResult answers an apiKey or accessToken login: {type}.
type LoginAPIKeyResult struct {
	Type string `json:"type"`
}

// LoginChatGPTResult answers a chatgpt (browser) login start.
type LoginChatGPTResult struct {
	Type     string `json:"type"`
	LoginID  string `json:"loginId"`
	AuthURL  string `json:"authUrl"`
	Headless bool   `json:"headless,omitempty"`
	Message  string `json:"message,omitempty"`
}

// LoginDeviceCodeResult answers a chatgptDeviceCode login start.
type LoginDeviceCodeResult struct {
	Type            string `json:"type"`
	LoginID         string `json:"loginId"`
	VerificationURL string `json:"verificationUrl"`
	UserCode        string `json:"userCode"`
	ExpiresAt       string `json:"expiresAt"`
}

// LoginCancelParams are account/login/cancel's params.
type LoginCancelParams struct {
	LoginID *string `json:"loginId"`
}

// Cancel statuses.
const (
	CancelStatusCanceled = "canceled"
	CancelStatusNotFound = "notFound"
)

// LoginCancelResult is account/login/cancel's result.
type LoginCancelResult struct {
	Status string `json:"status"`
}

// LogoutResult is account/logout's result: {}.
type LogoutResult struct{}

// TokenParams are account/token's params.
type TokenParams struct {
	// Refresh forces a refresh first.
	Refresh bool `json:"refresh"`
	// SessionID names a saved account (its session id, or an email one
	// saved account has); absent: the active account.
	SessionID *string `json:"sessionId"`
}

// AccountSessionParams are the params of accountSession/switch, /logout
// and /forget: {sessionId} (a session id, or an email exactly one saved
// account has).
type AccountSessionParams struct {
	SessionID *string `json:"sessionId"`
}

// AccountSessionList is accountSession/*'s result. It never holds a
// secret.
type AccountSessionList struct {
	// ActiveSessionID is null when no saved account is active.
	ActiveSessionID *string          `json:"activeSessionId"`
	Sessions        []AccountSession `json:"sessions"`
}

// AccountSession is one saved account, in the names of Codex's newer
// account-sessions.json, with codex-auth's type, planType, apiKeyHint,
// needsLogin and forbidden.
type AccountSession struct {
	SessionID string `json:"sessionId"`
	// Type is "chatgpt", "apiKey" or "accessToken".
	Type        string `json:"type"`
	Email       string `json:"email,omitempty"`
	UserID      string `json:"userId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	ImageURL    string `json:"imageUrl,omitempty"`
	// LastUsedAt is RFC 3339 UTC.
	LastUsedAt                 string                    `json:"lastUsedAt,omitempty"`
	SelectedWorkspaceAccountID string                    `json:"selectedWorkspaceAccountId,omitempty"`
	Workspaces                 []AccountSessionWorkspace `json:"workspaces"`
	PlanType                   string                    `json:"planType,omitempty"`
	APIKeyHint                 string                    `json:"apiKeyHint,omitempty"`
	NeedsLogin                 bool                      `json:"needsLogin"`
	// Forbidden is the managed policy's message; absent when allowed.
	Forbidden string `json:"forbidden,omitempty"`
}

// AccountSessionWorkspace is a ChatGPT workspace of a saved account.
type AccountSessionWorkspace struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name,omitempty"`
	ImageURL  string `json:"imageUrl,omitempty"`
	Kind      string `json:"kind,omitempty"`
}

// TokenAPIKeyResult is account/token's result for an API key.
type TokenAPIKeyResult struct {
	Type   string `json:"type"`
	APIKey string `json:"apiKey"`
}

// TokenAccessTokenResult is account/token's result for a personal access
// token: a bearer token for the API.
type TokenAccessTokenResult struct {
	Type        string `json:"type"`
	AccessToken string `json:"accessToken"`
}

// TokenChatGPTResult is account/token's result for a ChatGPT session.
type TokenChatGPTResult struct {
	Type        string  `json:"type"`
	AccessToken string  `json:"accessToken"`
	ExpiresAt   *string `json:"expiresAt"`
	AccountID   string  `json:"accountId"`
}

// AccountUpdatedParams are account/updated's params.
type AccountUpdatedParams struct {
	// AuthMode is "apikey", "chatgpt", "personalAccessToken",
	// "agentIdentity" or null when logged out (Codex's values).
	AuthMode *string `json:"authMode"`
	// PlanType is null unless chatgpt.
	PlanType    *string `json:"planType"`
	Email       string  `json:"email,omitempty"`
	WorkspaceID string  `json:"workspaceId,omitempty"`
}

// LoginCompletedParams are account/login/completed's params.
type LoginCompletedParams struct {
	LoginID string `json:"loginId"`
	Success bool   `json:"success"`
	// Error is null on success.
	Error *string `json:"error"`
}

// SessionInvalidatedParams are account/sessionInvalidated's params.
type SessionInvalidatedParams struct {
	// Reason is one of session's Reason* values.
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// formatTime is RFC 3339 in UTC; nil for the zero time.
func formatTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// toAccountRead converts session's Status.
func toAccountRead(st session.Status) AccountReadResult {
	r := AccountReadResult{
		RequiresOpenAIAuth: st.RequiresOpenAIAuth,
		Store:              Store{Mode: st.StoreMode, Location: st.StoreLocation, Fallback: st.StoreFallback},
		Issuer:             st.Issuer,
		Provider:           toProviderWire(st.Provider),
		Policy: Policy{
			ForcedLoginMethod:  nullable(string(st.Policy.ForcedLoginMethod)),
			ForcedWorkspaceIDs: append([]string{}, st.Policy.ForcedWorkspaceIDs...),
		},
		Problem: st.Problem,
		Warning: st.Warning,
	}
	if a := st.Account; a != nil {
		switch a.Type {
		case session.AccountAPIKey:
			r.Account = &Account{Type: string(session.AccountAPIKey), APIKeyHint: a.APIKeyHint}
		case session.AccountOIDC:
			r.Account = &Account{Type: string(a.Type), Subject: a.Subject, Email: a.Email, Name: a.Name, ExpiresAt: formatTime(a.ExpiresAt)}
		default:
			r.Account = &Account{
				Type:        string(a.Type),
				Email:       a.Email,
				PlanType:    a.PlanType,
				WorkspaceID: a.WorkspaceID,
				ExpiresAt:   formatTime(a.ExpiresAt),
			}
		}
	}
	return r
}

// AccountSessionListOf is session's AccountList on the wire (also the
// CLI's `accounts --json`).
func AccountSessionListOf(l session.AccountList) AccountSessionList {
	out := AccountSessionList{ActiveSessionID: nullable(l.ActiveID), Sessions: []AccountSession{}}
	for _, a := range l.Accounts {
		s := AccountSession{
			SessionID:                  a.SessionID,
			Type:                       string(a.Type),
			Email:                      a.Email,
			UserID:                     a.UserID,
			DisplayName:                a.DisplayName,
			ImageURL:                   a.ImageURL,
			SelectedWorkspaceAccountID: a.SelectedWorkspaceID,
			Workspaces:                 []AccountSessionWorkspace{},
			PlanType:                   a.PlanType,
			APIKeyHint:                 a.APIKeyHint,
			NeedsLogin:                 a.NeedsLogin,
			Forbidden:                  a.Forbidden,
		}
		if t := formatTime(a.LastUsedAt); t != nil {
			s.LastUsedAt = *t
		}
		for _, w := range a.Workspaces {
			s.Workspaces = append(s.Workspaces, AccountSessionWorkspace{AccountID: w.AccountID, Name: w.Name, ImageURL: w.ImageURL, Kind: w.Kind})
		}
		out.Sessions = append(out.Sessions, s)
	}
	return out
}

// toToken converts session's Token: the only secret-bearing conversion.
func toToken(t session.Token) any {
	switch t.Type {
	case session.AccountAPIKey:
		return TokenAPIKeyResult{Type: string(session.AccountAPIKey), APIKey: t.APIKey}
	case session.AccountPersonalAccessToken:
		return TokenAccessTokenResult{Type: string(t.Type), AccessToken: t.AccessToken}
	case session.AccountOIDC:
		return TokenOIDCResult{Type: string(t.Type), AccessToken: t.AccessToken, IDToken: t.IDToken, ExpiresAt: formatTime(t.ExpiresAt)}
	}
	return TokenChatGPTResult{Type: string(t.Type), AccessToken: t.AccessToken, ExpiresAt: formatTime(t.ExpiresAt), AccountID: t.AccountID}
}

// toUpdatedParams converts session's AccountUpdated.
func toUpdatedParams(e session.AccountUpdated) AccountUpdatedParams {
	return AccountUpdatedParams{
		AuthMode: nullable(string(e.AuthMode)), PlanType: nullable(e.PlanType),
		Email: e.Email, WorkspaceID: e.WorkspaceID,
	}
}

// toCompletedParams converts session's LoginCompleted.
func toCompletedParams(e session.LoginCompleted) LoginCompletedParams {
	return LoginCompletedParams{LoginID: e.LoginID, Success: e.Success, Error: nullable(e.Error)}
}

// toInvalidatedParams converts session's Invalidation.
func toInvalidatedParams(e session.Invalidation) SessionInvalidatedParams {
	return SessionInvalidatedParams{Reason: string(e.Reason), Message: e.Message}
}
