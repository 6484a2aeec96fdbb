// Package openai is the client of OpenAI's sign-in server
// (auth.openai.com) and of servers that speak its dialect, such as the
// local issuer: the authorize URL Codex builds, the code exchange, the
// refresh Codex 0.171 sends, the API-key token exchange, revocation and
// OpenAI's own device-code flow. It implements the session's issuer seam
// in the vocabulary of package oauth.
package openai
