package oidc

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Tokens is what a login or a refresh gives.
type Tokens struct {
	AccessToken string
	TokenType   string // "Bearer" for the providers this package knows
	// RefreshToken is empty when the provider gave none (no
	// offline_access); after a refresh that did not rotate it, it is the
	// one that was redeemed.
	RefreshToken string
	// IDToken is the raw ID token; empty after a refresh that returned
	// none (keep the one you have, OpenID Connect Core 1.0 section 12.2).
	IDToken string
	// Expiry is when the access token expires (zero: the provider did not
	// say).
	Expiry time.Time
	// Claims are IDToken's verified claims; nil when IDToken is empty.
	Claims *Claims
}

// fromOAuth2 copies an x/oauth2 token.
func fromOAuth2(t *oauth2.Token) Tokens {
	id, _ := t.Extra("id_token").(string)
	return Tokens{
		AccessToken:  t.AccessToken,
		TokenType:    t.Type(),
		RefreshToken: t.RefreshToken,
		IDToken:      id,
		Expiry:       t.Expiry,
	}
}

// CheckRedirectURI accepts the loopback redirects of RFC 8252 section
// 7.3: http on a loopback IP literal (127.0.0.1 or [::1]) with a port and
// no fragment. Providers that follow section 7.3 accept any port for a
// registered loopback redirect. "localhost" is accepted too, as some
// providers register only it, though section 8.3 recommends the literal
// (a local resolver or firewall may send localhost elsewhere).
func CheckRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Port() == "" {
		return &ConfigError{Field: "redirect_uri", Reason: "must be http://127.0.0.1:PORT/... or http://[::1]:PORT/... (RFC 8252 section 7.3)"}
	}
	if strings.EqualFold(u.Hostname(), "localhost") {
		return nil
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return &ConfigError{Field: "redirect_uri", Reason: "must be on a loopback IP literal, 127.0.0.1 or [::1] (RFC 8252 sections 7.3 and 8.3)"}
	}
	return nil
}

// AuthCodeURL builds the browser login URL: an authorization request
// (RFC 6749 section 4.1.1, OpenID Connect Core 1.0 section 3.1.2.1) with
// the S256 challenge of verifier (RFC 7636 section 4.2; make verifier with
// oauth2.GenerateVerifier), state (checked by the caller on the redirect,
// RFC 6749 section 10.12) and nonce (checked in the ID token by Exchange).
// redirectURI must pass CheckRedirectURI.
func (p *Provider) AuthCodeURL(state, nonce, verifier, redirectURI string) (string, error) {
	if err := CheckRedirectURI(redirectURI); err != nil {
		return "", err
	}
	if state == "" || nonce == "" {
		return "", &ConfigError{Field: "state/nonce", Reason: "both are required"}
	}
	if n := len(verifier); n < 43 || n > 128 {
		return "", &ConfigError{Field: "verifier", Reason: "must be 43 to 128 characters (RFC 7636 section 4.1)"}
	}
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("nonce", nonce),
	}
	if p.cfg.Audience != "" {
		opts = append(opts, oauth2.SetAuthURLParam("audience", p.cfg.Audience))
	}
	return p.oauth2Config(p.metadata(), redirectURI).AuthCodeURL(state, opts...), nil
}

// ParseRedirect reads the query of the loopback redirect (RFC 6749
// section 4.1.2) and returns the code to Exchange. It fails with
// ErrStateMismatch when state is not the login's or when iss names
// another issuer, or is missing from a provider that advertises it (RFC
// 9207 section 2.4: a mix-up defence); and with a *ProviderError for an
// error response (section 4.1.2.1: access_denied when the user refused).
func (p *Provider) ParseRedirect(query url.Values, state string) (string, error) {
	const op = "authorization"
	if state == "" || query.Get("state") != state {
		return "", fmt.Errorf("%s: %w", op, ErrStateMismatch)
	}
	iss, hasIss := query["iss"]
	if (hasIss && (len(iss) != 1 || iss[0] != p.cfg.Issuer)) || (!hasIss && p.metadata().IssParameter) {
		return "", fmt.Errorf("%s: %w", op, ErrStateMismatch)
	}
	if code := query.Get("error"); code != "" {
		return "", &ProviderError{Op: op, Code: clip(code, 64), Description: clip(query.Get("error_description"), 200)}
	}
	code := query.Get("code")
	if code == "" {
		return "", fmt.Errorf("%w: %s: the redirect has no code", ErrInvalidResponse, op)
	}
	return code, nil
}

// Exchange redeems the code the loopback redirect brought (RFC 6749
// section 4.1.3) with its PKCE verifier (RFC 7636 section 4.5), then
// verifies the ID token, nonce included (VerifyIDToken). The answer must
// carry an access token and an ID token. Errors: *ProviderError (an
// invalid_grant: the code is used, expired, or the verifier or redirect
// does not match), ErrUnavailable, ErrInvalidResponse, ErrInvalidIDToken.
func (p *Provider) Exchange(ctx context.Context, code, verifier, redirectURI, nonce string) (Tokens, error) {
	const op = "code exchange"
	if nonce == "" {
		return Tokens{}, &ConfigError{Field: "nonce", Reason: "is required"}
	}
	var tok *oauth2.Token
	err := p.withEndpoints(ctx, func(m *Metadata) error {
		var err error
		tok, err = p.oauth2Config(m, redirectURI).Exchange(p.ctx(ctx), code, oauth2.VerifierOption(verifier))
		return classify(ctx, op, err)
	})
	if err != nil {
		return Tokens{}, err
	}
	return p.finish(ctx, op, tok, nonce, true, "")
}

// finish verifies the ID token of a token answer. A login (code or
// device) must carry one; a refresh may not, and when it does, its subject
// must be subject (unless that is "").
func (p *Provider) finish(ctx context.Context, op string, tok *oauth2.Token, nonce string, login bool, subject string) (Tokens, error) {
	t := fromOAuth2(tok)
	if t.IDToken == "" {
		if login {
			return Tokens{}, fmt.Errorf("%w: %s: the answer has no id_token", ErrInvalidResponse, op)
		}
		return t, nil
	}
	c, err := p.VerifyIDToken(ctx, t.IDToken, nonce)
	if err != nil {
		return Tokens{}, fmt.Errorf("%s: %w", op, err)
	}
	if subject != "" && c.Subject != subject {
		// OpenID Connect Core 1.0 section 12.2: sub must stay the same.
		return Tokens{}, fmt.Errorf("%s: %w", op, tokenErr("the refreshed ID token is for another subject"))
	}
	t.Claims = c
	return t, nil
}
