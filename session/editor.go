package session

import (
	"context"

	"github.com/codex-auth/codex-auth/store"
)

// Editor is the editor as the session sees it: what the Manager tells it
// and asks of it, one method each (as gopls's server holds a
// protocol.Client). Package rpc implements it for the sidecar's editor;
// the CLI has its own. Methods must not block for long.
type Editor interface {
	// AccountUpdated: the account changed, whoever changed it.
	AccountUpdated(AccountUpdated)
	// LoginCompleted ends every login attempt.
	LoginCompleted(LoginCompleted)
	// SessionInvalidated: the session the editor was using has ended.
	SessionInvalidated(Invalidation)
	// AccountsUpdated: the saved accounts changed in a way their list
	// shows, whoever changed them; l is the list after the change.
	AccountsUpdated(l AccountList)
	// ShowDocument asks the editor to open url in the user's browser,
	// where the user is (remote development included); opened is false
	// when it could not.
	ShowDocument(ctx context.Context, url string) (opened bool, err error)
	// CanShowDocuments reports whether ShowDocument can work at all.
	CanShowDocuments() bool
}

// NoEditor is an Editor that hears nothing and shows nothing: one-shot
// commands that only read or write the store.
type NoEditor struct{}

// AccountUpdated does nothing.
func (NoEditor) AccountUpdated(AccountUpdated) {}

// LoginCompleted does nothing.
func (NoEditor) LoginCompleted(LoginCompleted) {}

// SessionInvalidated does nothing.
func (NoEditor) SessionInvalidated(Invalidation) {}

// AccountsUpdated does nothing.
func (NoEditor) AccountsUpdated(AccountList) {}

// ShowDocument shows nothing.
func (NoEditor) ShowDocument(context.Context, string) (bool, error) { return false, nil }

// CanShowDocuments is false.
func (NoEditor) CanShowDocuments() bool { return false }

// AccountUpdated: the account changed (login, logout, another account,
// a new plan).
type AccountUpdated struct {
	// AuthMode is the record's effective auth_mode (the Codex CLI's
	// values); "" when logged out.
	AuthMode    store.AuthMode
	PlanType    string
	Email       string
	WorkspaceID string
}

// LoginCompleted ends every login attempt.
type LoginCompleted struct {
	LoginID string
	Success bool
	// Error is a message safe to show; "" on success.
	Error string
}

// InvalidationReason says why a session ended.
type InvalidationReason string

// Invalidation reasons (the wire's values).
const (
	ReasonLoggedOut            InvalidationReason = "loggedOut"
	ReasonAccountChanged       InvalidationReason = "accountChanged"
	ReasonRefreshFailed        InvalidationReason = "refreshFailed"
	ReasonPolicyViolation      InvalidationReason = "policyViolation"
	ReasonCredentialsCorrupted InvalidationReason = "credentialsCorrupted"
)

// Invalidation: the session the editor was using has ended, and why.
type Invalidation struct {
	Reason  InvalidationReason
	Message string
}

// note is one notification for the editor, sent once the change it
// reports is made (in order, after the store write behind it).
type note func(Editor)

func noteUpdated(u AccountUpdated) note   { return func(e Editor) { e.AccountUpdated(u) } }
func noteCompleted(c LoginCompleted) note { return func(e Editor) { e.LoginCompleted(c) } }
func noteInvalidated(i Invalidation) note { return func(e Editor) { e.SessionInvalidated(i) } }

// tell sends notes to the editor, in order, then the saved accounts'
// list if the change behind them changed it.
func (m *Manager) tell(notes []note) {
	for _, n := range notes {
		n(m.editor)
	}
	if len(notes) > 0 {
		m.tellAccounts()
	}
}
