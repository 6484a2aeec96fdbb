// Package session is the account API behind the sidecar and the CLI: the
// Manager runs the sign-in flows, keeps the ChatGPT token fresh beside the
// Codex CLI, enforces managed policy, and follows what other processes do
// to the shared credentials; or, given a Provider, does the same for an
// OpenID provider's sign-in. It knows flows and tokens, not JSON-RPC:
// package rpc serves it on the wire and translates its errors.
//
// How to read it:
//   - manager.go: the Manager, its Options, and the answers of account/read
//     and account/token; editor.go: the Editor it talks to (the typed
//     notifications and window/showDocument) and types.go its results and
//     errors.
//   - the flows, a file each: browser.go (loopback redirect with PKCE),
//     device.go (OpenAI's device code), apikey.go, whoami.go (access
//     tokens), logout.go.
//   - refresh.go (one refresh per credential, never beside Codex's) and
//     refresh_ahead.go (refreshing ahead of Codex's window).
//   - policy.go (forced_login_method, forced_chatgpt_workspace_id),
//     change_verdict.go (what a change made elsewhere means),
//     external_changes.go (the watcher's changes adopted and notified).
//   - accounts.go: several accounts (the saved copies kept in step with
//     the stored record, switching in place, tokens of inactive accounts).
//   - issuer.go: the seam to the sign-in server.
//   - provider.go: the seam to an OpenID provider chosen instead of
//     Codex's sign-in (the Provider interface, OIDCProvider over package
//     oidc and its errors), and provider_login.go its logins, saved as
//     the provider's own record (never Codex's); refresh, logout and the
//     watcher are the same, without Codex's own steps.
//
// Its collaborators are packages beneath it: oauth (the seam's
// vocabulary), openai (OpenAI's endpoints), oidc (any OpenID provider),
// loopback (the redirect server and the system browser) and watch
// (fsnotify and keyring polling).
package session
