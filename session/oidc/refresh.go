package oidc

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"
)

// Refresh redeems a refresh token (RFC 6749 section 6) and returns the
// new token set. A provider that rotates refresh tokens (RFC 6749 section
// 10.4, RFC 9700 section 4.14.2) returns a new one, which replaces the
// old at once: save it before anything else may refresh. One that does
// not gives none, and Tokens.RefreshToken is then refreshToken again.
//
// An ID token in the answer is verified (no nonce; OpenID Connect Core
// 1.0 section 12.2) and, when subject is not "", must be for that
// subject; an answer without one leaves Tokens.IDToken empty (keep the
// one you have). A refused token is a *ProviderError whose Permanent
// reports whether the user must sign in again.
func (p *Provider) Refresh(ctx context.Context, refreshToken, subject string) (Tokens, error) {
	const op = "refresh"
	if refreshToken == "" {
		return Tokens{}, &ConfigError{Field: "refresh_token", Reason: "is empty: sign in again"}
	}
	var tok *oauth2.Token
	err := p.withEndpoints(ctx, func(m *Metadata) error {
		var err error
		// A token with no access token is never valid: Token refreshes.
		tok, err = p.oauth2Config(m, "").TokenSource(p.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
		return classify(ctx, op, err)
	})
	if err != nil {
		return Tokens{}, err
	}
	if tok.AccessToken == "" {
		return Tokens{}, fmt.Errorf("%w: %s: the answer has no access_token", ErrInvalidResponse, op)
	}
	return p.finish(ctx, op, tok, "", false, subject)
}
