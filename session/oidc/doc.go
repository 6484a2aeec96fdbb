// Package oidc signs a user in to any OpenID Connect provider (Okta, Entra
// ID, Keycloak, Auth0, Zitadel, Dex, ...) as a native app: discovery,
// browser login with PKCE on a loopback redirect, the RFC 8628 device
// grant, refresh with rotation, revocation, and ID tokens checked against
// the provider's keys. It knows flows and tokens, not where they are
// stored nor how they reach an editor.
//
// How to read it:
//
//   - provider.go: Config, New and the Provider, which holds the
//     discovered metadata (discovery.go) and the provider's keys (jwks.go).
//   - login.go: AuthCodeURL and Exchange, the browser login (RFC 6749
//     section 4.1, RFC 7636 PKCE S256, RFC 8252 loopback redirects).
//   - device.go: DeviceStart and DeviceWait, the device grant (RFC 8628).
//   - refresh.go and revoke.go: RFC 6749 section 6 and RFC 7009.
//   - userinfo.go: UserInfo (OpenID Connect Core 1.0 section 5.3), for
//     the email and name many providers leave out of the ID token.
//   - idtoken.go: VerifyIDToken and Claims (OpenID Connect Core 1.0
//     section 3.1.3.7), with RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA.
//   - errors.go: every error a caller can tell apart. *ProviderError is an
//     answer the provider gave (RFC 6749 section 5.2 codes); errors wrapping
//     ErrUnavailable are network failures, timeouts, 5xx and 429;
//     ErrInvalidResponse is a success answer that cannot be used;
//     ErrInvalidIDToken an ID token that fails a check. No error message
//     ever holds a token.
//
// Token requests go through golang.org/x/oauth2; the Provider is safe for
// concurrent use and keeps no request's context. It keeps no tokens
// either: storing them, and refreshing once across processes, is the
// caller's job.
//
// A login, in order: New (once per provider); AuthCodeURL with a fresh
// state, nonce and verifier (oauth2.GenerateVerifier makes all three) and
// a loopback redirect the caller serves; on the redirect, ParseRedirect
// (state, iss, error), then Exchange. Or DeviceStart, show the code, DeviceWait. Later:
// Refresh, UserInfo, Revoke on logout.
package oidc
