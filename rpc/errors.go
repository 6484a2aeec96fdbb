package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.lsp.dev/jsonrpc2"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/store"
)

// JSON-RPC 2.0's own codes (https://www.jsonrpc.org/specification#error_object).
const (
	// CodeParseError: the body is not JSON.
	CodeParseError = jsonrpc2.ParseError // -32700
	// CodeInvalidRequest: the JSON is not a valid request object (not an
	// object, a batch, a bad id, method or params member); also any request
	// after shutdown, as LSP prescribes.
	CodeInvalidRequest = jsonrpc2.InvalidRequest // -32600
	// CodeMethodNotFound: no such method.
	CodeMethodNotFound = jsonrpc2.MethodNotFound // -32601
	// CodeInvalidParams: params of the wrong shape; the message names the field.
	CodeInvalidParams = jsonrpc2.InvalidParams // -32602
	// CodeInternalError: an unexpected failure; details go to the log only.
	CodeInternalError = jsonrpc2.InternalError // -32603
)

// LSP's codes (LSP 3.17, "ErrorCodes" and "LSPErrorCodes").
const (
	// CodeUnknownError: LSP's catch-all (unused by us, listed for clients).
	CodeUnknownError jsonrpc2.Code = -32001
	// CodeServerNotInitialized: a request before initialize.
	CodeServerNotInitialized jsonrpc2.Code = -32002
	// CodeRequestCancelled: the request was cancelled by $/cancelRequest
	// (or by the server exiting) before it finished.
	CodeRequestCancelled jsonrpc2.Code = -32800
)

// codex-auth's own codes, from -32010 downward (JSON-RPC reserves -32000 to
// -32099 for implementation-defined server errors; LSP uses -32001 and
// -32002). Each is documented in docs/protocol.md and never renumbered.
const (
	// CodeNotLoggedIn: nothing is stored (session.ErrNotLoggedIn).
	CodeNotLoggedIn jsonrpc2.Code = -32010
	// CodePolicyForbids: managed policy forbids it (*session.PolicyError);
	// the message is the Codex CLI's wording.
	CodePolicyForbids jsonrpc2.Code = -32011
	// CodeIssuerUnavailable: the sign-in server cannot be reached or failed
	// (session.ErrIssuerUnavailable, a non-permanent *session.IssuerError,
	// a redirect: session.ErrIssuerRedirect).
	CodeIssuerUnavailable jsonrpc2.Code = -32012
	// CodeStoreUnavailable: the credential store cannot be used now
	// (store.ErrUnavailable, store.ErrTooLarge).
	CodeStoreUnavailable jsonrpc2.Code = -32013
	// CodeUnsupportedRecord: the stored record uses a sign-in method
	// codex-auth does not handle (session.ErrUnsupportedRecord), or one
	// only the Codex CLI can use (*session.UnusableRecordError, saying why).
	CodeUnsupportedRecord jsonrpc2.Code = -32014
	// CodeCredentialsCorrupt: the stored bytes are not an auth record
	// (*store.CorruptError).
	CodeCredentialsCorrupt jsonrpc2.Code = -32015
	// CodeLoginTypeUnsupported: account/login/start with a type that is
	// unknown or not available yet (session.ErrLoginTypeUnsupported).
	CodeLoginTypeUnsupported jsonrpc2.Code = -32016
	// CodeSessionExpired: the refresh token was rejected; log in again
	// (session.ErrSessionExpired, a permanent *session.IssuerError,
	// session.ErrAccessTokenRejected for a stored access token).
	CodeSessionExpired jsonrpc2.Code = -32017
	// CodeDeviceCodeDisabled: the issuer does not offer device-code login
	// (session.ErrDeviceCodeDisabled).
	CodeDeviceCodeDisabled jsonrpc2.Code = -32018
	// CodeIncompatibleProtocol: initialize stated a protocol version whose
	// major version we do not speak; the message names both versions.
	CodeIncompatibleProtocol jsonrpc2.Code = -32019
	// CodeLoginFailed: the login attempt failed (session.ErrLoginFailed;
	// *session.AccessTokenError and *session.ProviderLoginError with their
	// message).
	CodeLoginFailed jsonrpc2.Code = -32020
	// CodeUnknownAccount: no saved account answers to the session id or
	// email given, or an email several saved accounts share
	// (session.ErrUnknownAccount; *store.NotSavedError says which).
	CodeUnknownAccount jsonrpc2.Code = -32021
)

// unknownLoginTypeError is an account/login/start type this protocol does
// not define. The type is not kept, so a client that put a secret there
// never sees it echoed.
type unknownLoginTypeError struct{}

func (unknownLoginTypeError) Error() string { return "unknown login type" }
func (unknownLoginTypeError) Unwrap() error { return session.ErrLoginTypeUnsupported }

// newError builds a wire error with a code and a message safe for users.
func newError(code jsonrpc2.Code, format string, args ...any) *jsonrpc2.Error {
	return &jsonrpc2.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// wireError maps err to the code and message a client sees. It matches with
// errors.Is / errors.As only. The messages are fixed texts or typed fields
// that are safe to show; an unknown error becomes -32603 with a generic
// message and its detail is logged at debug level.
func wireError(err error, log *slog.Logger) *jsonrpc2.Error {
	var (
		wire     *jsonrpc2.Error
		policy   *session.PolicyError
		input    *session.InputError
		corrupt  *store.CorruptError
		issuer   *session.IssuerError
		expired  *session.ExpiredError
		unknown  unknownLoginTypeError
		atLogin  *session.AccessTokenError
		usable   *session.UnusableRecordError
		prLogin  *session.ProviderLoginError
		notSaved *store.NotSavedError
		schema   *store.SchemaError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &wire):
		return wire
	case errors.Is(err, context.Canceled):
		return newError(CodeRequestCancelled, "request cancelled")
	case errors.As(err, &policy):
		return newError(CodePolicyForbids, "%s", policy.Message)
	case errors.As(err, &input):
		return newError(CodeInvalidParams, "invalid params: %s: %s", input.Field, input.Reason)
	case errors.Is(err, session.ErrInvalidInput):
		return newError(CodeInvalidParams, "invalid params")
	case errors.As(err, &atLogin):
		return newError(CodeLoginFailed, "%s", atLogin.Message)
	case errors.As(err, &prLogin):
		return newError(CodeLoginFailed, "login failed: %s", prLogin.Message)
	case errors.Is(err, session.ErrAccessTokenRejected):
		return newError(CodeSessionExpired, "%s; sign in again with a new token", session.ErrAccessTokenRejected.Error())
	case errors.Is(err, session.ErrNotLoggedIn):
		return newError(CodeNotLoggedIn, "not logged in")
	case errors.As(err, &notSaved):
		return newError(CodeUnknownAccount, "%s", notSaved.Reason)
	case errors.Is(err, session.ErrUnknownAccount):
		return newError(CodeUnknownAccount, "no such saved account")
	case errors.Is(err, session.ErrNeedsLogin):
		return newError(CodeSessionExpired, "%s", session.ErrNeedsLogin.Error())
	case errors.As(err, &expired):
		return newError(CodeSessionExpired, "%s", expired.Error())
	case errors.Is(err, session.ErrSessionExpired):
		return newError(CodeSessionExpired, "%s", session.ErrSessionExpired.Error())
	case errors.Is(err, session.ErrIssuerRedirect):
		return newError(CodeIssuerUnavailable, "%s", session.ErrIssuerRedirect.Error())
	case errors.Is(err, session.ErrIssuerUnavailable):
		return newError(CodeIssuerUnavailable, "%s; try again later", session.ErrIssuerUnavailable.Error())
	case errors.Is(err, session.ErrInvalidResponse):
		return newError(CodeIssuerUnavailable, "the sign-in server sent an invalid response; try again later")
	case errors.As(err, &issuer):
		if issuer.Permanent() {
			return newError(CodeSessionExpired, "%s", session.ErrSessionExpired.Error())
		}
		return newError(CodeIssuerUnavailable, "%s", issuer.Error())
	case errors.As(err, &corrupt):
		return newError(CodeCredentialsCorrupt, "%s", corrupt.Error())
	case errors.As(err, &schema):
		return newError(CodeStoreUnavailable, "%s", schema.Error())
	case errors.Is(err, store.ErrUnidentified):
		return newError(CodeUnsupportedRecord, "%s", store.ErrUnidentified.Error())
	case errors.Is(err, store.ErrTooLarge):
		return newError(CodeStoreUnavailable, "the credentials are too large for the keyring; set cli_auth_credentials_store = \"auto\" to fall back to the file")
	case errors.Is(err, store.ErrUnavailable):
		return newError(CodeStoreUnavailable, "the credential store is unavailable (keyring locked or absent, or the file cannot be used)")
	case errors.As(err, &usable):
		return newError(CodeUnsupportedRecord, "%s", usable.Reason)
	case errors.Is(err, session.ErrUnsupportedRecord):
		return newError(CodeUnsupportedRecord, "%s", session.ErrUnsupportedRecord.Error())
	case errors.As(err, &unknown):
		return newError(CodeLoginTypeUnsupported, "unknown login type; use apiKey, accessToken, chatgpt, chatgptDeviceCode, browser or deviceCode")
	case errors.Is(err, session.ErrProviderLoginType):
		return newError(CodeLoginTypeUnsupported, "%s", session.ErrProviderLoginType.Error())
	case errors.Is(err, session.ErrLoginTypeUnsupported):
		return newError(CodeLoginTypeUnsupported, "this login type is not supported yet")
	case errors.Is(err, session.ErrDeviceCodeDisabled):
		return newError(CodeDeviceCodeDisabled, "%s", session.ErrDeviceCodeDisabled.Error())
	case errors.Is(err, session.ErrLoginFailed):
		return newError(CodeLoginFailed, "login failed")
	}
	log.Debug("internal error", "type", fmt.Sprintf("%T", err), "err", err.Error())
	return newError(CodeInternalError, "internal error")
}
