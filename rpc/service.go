package rpc

import (
	"context"

	"github.com/codex-auth/codex-auth/session"
)

// Service is the account API the server exposes. *session.Manager
// implements it; tests use fakes.
type Service interface {
	// SetClient reports the editor's clientInfo from initialize (used in
	// the HTTP user agent).
	SetClient(name, version string)
	Status(ctx context.Context, refresh bool) (session.Status, error)
	LoginAPIKey(ctx context.Context, apiKey string) error
	LoginAccessToken(ctx context.Context, token string) error
	StartBrowserLogin(ctx context.Context) (session.BrowserLogin, error)
	StartDeviceLogin(ctx context.Context) (session.DeviceLogin, error)
	// CancelLogin reports whether a login with that id was running.
	CancelLogin(ctx context.Context, loginID string) bool
	Logout(ctx context.Context) error
	Token(ctx context.Context, refresh bool) (session.Token, error)
	// AccountToken is Token for the saved account ref names (a session
	// id or an email); "" is the active account.
	AccountToken(ctx context.Context, ref string, refresh bool) (session.Token, error)
	// Accounts lists the saved accounts; SwitchAccount, LogoutAccount and
	// ForgetAccount change them and answer with the list afterwards.
	Accounts(ctx context.Context) (session.AccountList, error)
	SwitchAccount(ctx context.Context, ref string) (session.AccountList, error)
	LogoutAccount(ctx context.Context, ref string) (session.AccountList, error)
	ForgetAccount(ctx context.Context, ref string) (session.AccountList, error)
}
