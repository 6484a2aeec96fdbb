package oidc_test

import (
	"errors"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

// TestBrowserLogin plays the browser against the real provider: the
// authorization URL with PKCE, the provider's login form, the redirect to
// a loopback listener on a free port (IPv4 and IPv6), the exchange and
// the ID token's checks.
func TestBrowserLogin(t *testing.T) {
	srv := oidctest.Start(t)
	for _, tc := range []struct {
		name, host, client, secret string
	}{
		{"public/IPv4", "127.0.0.1", oidctest.PublicClient, ""},
		{"public/IPv6", "::1", oidctest.PublicClient, ""},
		{"confidential/IPv4", "127.0.0.1", oidctest.ConfidentialClient, oidctest.ConfidentialSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, srv, tc.client, tc.secret)
			r := browserLogin(t, p, tc.host)
			tok, err := p.Exchange(t.Context(), r.code, r.verifier, r.redirectURI, r.nonce)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" || tok.Expiry.IsZero() {
				t.Fatalf("tokens: access %t, refresh %t, id %t, expiry %v; want all",
					tok.AccessToken != "", tok.RefreshToken != "", tok.IDToken != "", tok.Expiry)
			}
			c := tok.Claims
			if c.Subject != oidctest.UserID || c.Nonce != r.nonce || c.Issuer != srv.URL {
				t.Errorf("claims = %+v, want subject %q, the nonce, issuer %s", c, oidctest.UserID, srv.URL)
			}
			// zitadel keeps email out of the ID token when it issues an
			// access token (OpenID Connect Core 1.0 section 5.4): ask.
			ui, err := p.UserInfo(t.Context(), tok.AccessToken, c.Subject)
			if err != nil || ui.Email != oidctest.UserEmail || !ui.EmailVerified {
				t.Errorf("UserInfo = %+v, %v; want email %q, verified", ui, err, oidctest.UserEmail)
			}
			if _, err := p.UserInfo(t.Context(), tok.AccessToken, "someone-else"); !errors.Is(err, oidc.ErrInvalidResponse) {
				t.Errorf("UserInfo for another subject = %v, want ErrInvalidResponse", err)
			}
			// A code is redeemed once (RFC 6749 section 4.1.2).
			_, err = p.Exchange(t.Context(), r.code, r.verifier, r.redirectURI, r.nonce)
			wantCode(t, err, "invalid_grant")
		})
	}
}

// TestPKCEVerifierChecked: the provider refuses a code with another
// verifier (RFC 7636 section 4.6).
func TestPKCEVerifierChecked(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	r := browserLogin(t, p, "127.0.0.1")
	_, err := p.Exchange(t.Context(), r.code, oauth2.GenerateVerifier(), r.redirectURI, r.nonce)
	wantCode(t, err, "invalid_grant")
}

// TestWrongNonce: an ID token whose nonce is not the login's is refused
// (OpenID Connect Core 1.0 section 3.1.3.7 point 11).
func TestWrongNonce(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	r := browserLogin(t, p, "127.0.0.1")
	_, err := p.Exchange(t.Context(), r.code, r.verifier, r.redirectURI, "another-nonce")
	wantIs(t, err, oidc.ErrInvalidIDToken)
}

func TestAuthCodeURL(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	v := oauth2.GenerateVerifier()
	raw, err := p.AuthCodeURL("st", "nn", v, "http://[::1]:49152/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": oidctest.PublicClient, "state": "st", "nonce": "nn",
		"code_challenge_method": "S256", "code_challenge": oauth2.S256ChallengeFromVerifier(v),
		"scope": "openid profile email offline_access", "redirect_uri": "http://[::1]:49152/callback",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if _, err := p.AuthCodeURL("st", "nn", v, "http://localhost:1455/callback"); err != nil {
		t.Errorf("localhost (allowed, not recommended: RFC 8252 section 8.3): %v", err)
	}
	for _, bad := range []string{
		"https://127.0.0.1:1455/callback",
		"http://127.0.0.1/callback", // no port
		"http://192.0.2.1:1455/callback",
		"http://127.0.0.1:1455/callback#x",
	} {
		if _, err := p.AuthCodeURL("st", "nn", v, bad); !errors.Is(err, oidc.ErrInvalidConfig) {
			t.Errorf("AuthCodeURL(%q) = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestParseRedirect(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	for name, tc := range map[string]struct {
		q    url.Values
		want error
		code string
	}{
		"good":             {url.Values{"state": {"s1"}, "code": {"c1"}}, nil, ""},
		"good with iss":    {url.Values{"state": {"s1"}, "code": {"c1"}, "iss": {srv.URL}}, nil, ""},
		"other state":      {url.Values{"state": {"s2"}, "code": {"c1"}}, oidc.ErrStateMismatch, ""},
		"no state":         {url.Values{"code": {"c1"}}, oidc.ErrStateMismatch, ""},
		"other issuer":     {url.Values{"state": {"s1"}, "code": {"c1"}, "iss": {"https://evil.example"}}, oidc.ErrStateMismatch, ""},
		"denied":           {url.Values{"state": {"s1"}, "error": {"access_denied"}}, nil, "access_denied"},
		"no code":          {url.Values{"state": {"s1"}}, oidc.ErrInvalidResponse, ""},
		"error, bad state": {url.Values{"state": {"x"}, "error": {"access_denied"}}, oidc.ErrStateMismatch, ""},
	} {
		code, err := p.ParseRedirect(tc.q, "s1")
		switch {
		case tc.code != "":
			var pe *oidc.ProviderError
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Errorf("%s: err = %v, want ProviderError %s", name, err, tc.code)
			}
		case tc.want != nil:
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", name, err, tc.want)
			}
		case err != nil || code != "c1":
			t.Errorf("%s: = %q, %v; want c1", name, code, err)
		}
	}
}

// wantCode fails unless err is a *ProviderError with code.
func wantCode(t *testing.T, err error, code string) *oidc.ProviderError {
	t.Helper()
	var pe *oidc.ProviderError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("err = %v, want a ProviderError %s", err, code)
	}
	return pe
}
