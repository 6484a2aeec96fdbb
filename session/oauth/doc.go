// Package oauth is the vocabulary of the issuer seam: what a sign-in
// server gives (token sets, device codes, device grants), what a browser
// login asks of it, and its errors (RFC 6749 section 5.2, and OpenAI's
// codes). The issuer clients beside it (openai, oidc) speak it; the
// session's Issuer interface is written in it.
package oauth
