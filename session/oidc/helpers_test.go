package oidc_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

// newProvider discovers srv as clientID (secret "" for a public client).
func newProvider(t *testing.T, srv *oidctest.Server, clientID, secret string) *oidc.Provider {
	t.Helper()
	p, err := oidc.New(t.Context(), oidc.Config{
		Issuer:       srv.URL,
		ClientID:     clientID,
		ClientSecret: secret,
		HTTP:         &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// loopback is the app's redirect listener (RFC 8252 section 7.3) on host
// ("127.0.0.1" or "::1") and a free port. Each redirect's query arrives
// on the channel.
func loopback(t *testing.T, host string) (string, <-chan url.Values) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no loopback on %s: %v", host, err)
	}
	got := make(chan url.Values, 4)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != oidctest.RedirectPath {
			http.NotFound(w, r)
			return
		}
		got <- r.URL.Query()
		w.Write([]byte("signed in; you can close this tab"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + oidctest.RedirectPath, got
}

// browserLogin is a browser login from the authorization URL to the code
// on the loopback redirect; it returns the code and the values the
// exchange needs.
type loginRun struct {
	code, verifier, redirectURI, nonce string
}

func browserLogin(t *testing.T, p *oidc.Provider, host string) loginRun {
	t.Helper()
	redirectURI, got := loopback(t, host)
	state, nonce, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	authURL, err := p.AuthCodeURL(state, nonce, verifier, redirectURI)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	pg, err := oidctest.NewBrowser().Login(t.Context(), authURL, oidctest.Username, oidctest.Password)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	var q url.Values
	select {
	case q = <-got:
	default:
		t.Fatalf("the browser ended on %s (%d) without reaching the redirect: %.300s", pg.URL, pg.Status, pg.Body)
	}
	code, err := p.ParseRedirect(q, state)
	if err != nil {
		t.Fatalf("ParseRedirect(%v): %v", q, err)
	}
	return loginRun{code: code, verifier: verifier, redirectURI: redirectURI, nonce: nonce}
}

// login is a whole browser login.
func login(t *testing.T, p *oidc.Provider) oidc.Tokens {
	t.Helper()
	r := browserLogin(t, p, "127.0.0.1")
	tok, err := p.Exchange(t.Context(), r.code, r.verifier, r.redirectURI, r.nonce)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// wantIs fails unless errors.Is(err, target).
func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want one matching %v", err, target)
	}
}

// signJWT makes a compact RS256 JWS.
func signJWT(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	s, err := signKid(key, kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signKid(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	hdr := map[string]any{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwks publishes key as kid.
func jwks(key *rsa.PublicKey, kid string) map[string]any {
	e := []byte{byte(key.E >> 16), byte(key.E >> 8), byte(key.E)}
	return map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(e),
	}}}
}
