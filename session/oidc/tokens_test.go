package oidc_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

// TestRefreshRotation: the provider rotates the refresh token (RFC 6749
// section 6, RFC 9700 section 4.14.2); the old one is refused afterwards
// with a permanent error, the new one works.
func TestRefreshRotation(t *testing.T) {
	srv := oidctest.Start(t)
	for _, tc := range []struct{ client, secret string }{
		{oidctest.PublicClient, ""},
		{oidctest.ConfidentialClient, oidctest.ConfidentialSecret},
	} {
		t.Run(tc.client, func(t *testing.T) {
			p := newProvider(t, srv, tc.client, tc.secret)
			first := login(t, p)
			second, err := p.Refresh(t.Context(), first.RefreshToken, first.Claims.Subject)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
				t.Fatalf("the refresh token was not rotated")
			}
			if second.AccessToken == "" || second.AccessToken == first.AccessToken {
				t.Fatalf("no new access token")
			}
			if second.IDToken != "" && (second.Claims == nil || second.Claims.Subject != oidctest.UserID) {
				t.Fatalf("refreshed claims = %+v, want subject %s", second.Claims, oidctest.UserID)
			}

			_, err = p.Refresh(t.Context(), first.RefreshToken, first.Claims.Subject)
			pe := wantCode(t, err, "invalid_grant")
			if !pe.Permanent() {
				t.Errorf("%v: Permanent = false, want true", pe)
			}
			if strings.Contains(err.Error(), first.RefreshToken) {
				t.Errorf("the error %q holds the refresh token", err)
			}

			if _, err := p.Refresh(t.Context(), second.RefreshToken, first.Claims.Subject); err != nil {
				t.Fatalf("Refresh with the rotated token: %v", err)
			}
		})
	}
}

// TestRevoke: a revoked refresh token no longer refreshes (RFC 7009
// section 2.1); revoking an unknown token is success (section 2.2).
func TestRevoke(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	tok := login(t, p)
	if err := p.Revoke(t.Context(), tok.RefreshToken, oidc.HintRefreshToken); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	_, err := p.Refresh(t.Context(), tok.RefreshToken, tok.Claims.Subject)
	if pe := wantCode(t, err, "invalid_grant"); !pe.Permanent() {
		t.Errorf("Permanent = false after a revocation")
	}
	if err := p.Revoke(t.Context(), "never-issued", oidc.HintRefreshToken); err != nil {
		t.Errorf("Revoke of an unknown token = %v, want nil", err)
	}

	// Confidential: client_secret_basic on the revocation endpoint.
	c := newProvider(t, srv, oidctest.ConfidentialClient, oidctest.ConfidentialSecret)
	ct := login(t, c)
	if err := c.Revoke(t.Context(), ct.RefreshToken, oidc.HintRefreshToken); err != nil {
		t.Fatalf("confidential Revoke: %v", err)
	}
	if _, err := c.Refresh(t.Context(), ct.RefreshToken, ""); err == nil {
		t.Fatal("the revoked confidential refresh token still refreshes")
	}
}

// TestRevokeNotAdvertised: without a revocation_endpoint, Revoke does
// nothing and says so with nil.
func TestRevokeNotAdvertised(t *testing.T) {
	var other atomic.Int32
	var issuer string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != oidc.WellKnown {
			other.Add(1)
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
			"token_endpoint": issuer + "/token", "jwks_uri": issuer + "/keys",
		})
	}))
	defer fake.Close()
	issuer = fake.URL
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: issuer, ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if p.CanRevoke() {
		t.Error("CanRevoke = true")
	}
	if err := p.Revoke(t.Context(), "tok", oidc.HintRefreshToken); err != nil {
		t.Errorf("Revoke = %v, want nil", err)
	}
	_, err = p.DeviceStart(t.Context())
	wantIs(t, err, oidc.ErrNotSupported)
	if n := other.Load(); n != 0 {
		t.Errorf("%d requests beyond discovery, want 0", n)
	}
}

// TestIDTokenSignature: an ID token with a damaged signature, one signed
// by another key under the provider's kid, and an unsigned one are all
// refused.
func TestIDTokenSignature(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	tok := login(t, p)
	if _, err := p.VerifyIDToken(t.Context(), tok.IDToken, ""); err != nil {
		t.Fatalf("the provider's own token: %v", err)
	}
	parts := strings.Split(tok.IDToken, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[len(sig)/2] ^= 0x01
	damaged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(payload, &claims)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := signJWT(t, other, srv.KeyID(), claims)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"`+srv.KeyID()+`"}`)) + "." + parts[1] + "." + parts[2]
	// The claims changed under the provider's real signature.
	claims["sub"] = "someone-else"
	b, _ := json.Marshal(claims)
	swapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]

	keys := srv.Hits("/keys")
	for name, raw := range map[string]string{
		"damaged": damaged, "forged": forged, "none": none, "HS256": hs, "claims swapped": swapped, "garbage": "a.b",
	} {
		if _, err := p.VerifyIDToken(t.Context(), raw, ""); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantIs(t, err, oidc.ErrInvalidIDToken)
		}
	}
	if n := srv.Hits("/keys") - keys; n != 0 {
		t.Errorf("bad signatures under a known kid fetched the keys %d times, want 0", n)
	}
}

// TestIDTokenAudience: a token the provider issued to another client is
// refused (OpenID Connect Core 1.0 section 3.1.3.7 point 3).
func TestIDTokenAudience(t *testing.T) {
	srv := oidctest.Start(t)
	mine := newProvider(t, srv, oidctest.PublicClient, "")
	theirs := newProvider(t, srv, oidctest.OtherClient, "")
	tok := login(t, theirs)
	_, err := mine.VerifyIDToken(t.Context(), tok.IDToken, "")
	wantIs(t, err, oidc.ErrInvalidIDToken)
	if !strings.Contains(err.Error(), "another client") {
		t.Errorf("err = %v, want it to name the audience", err)
	}
}

// TestKeyRotation: after the provider rotates its signing key, a token
// with the new kid fetches the JWKS again, once.
func TestKeyRotation(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	login(t, p)
	if n := srv.Hits("/keys"); n != 1 {
		t.Fatalf("keys fetched %d times after the first login, want 1", n)
	}
	old := srv.KeyID()
	if err := srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if srv.KeyID() == old {
		t.Fatal("the kid did not change")
	}
	login(t, p)
	if n := srv.Hits("/keys"); n != 2 {
		t.Fatalf("keys fetched %d times after the rotation, want 2", n)
	}
	login(t, p)
	if n := srv.Hits("/keys"); n != 2 {
		t.Fatalf("keys fetched %d times after a third login, want still 2", n)
	}

	// Concurrent verifications of a token with a kid the cached set does
	// not hold fetch the set once between them.
	fresh := newProvider(t, srv, oidctest.PublicClient, "")
	if _, err := fresh.VerifyIDToken(t.Context(), login(t, p).IDToken, ""); err != nil {
		t.Fatal(err) // fresh now holds the current keys
	}
	if err := srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	tok := login(t, p)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := srv.Hits("/keys")
	for range 8 {
		wg.Go(func() {
			_, err := fresh.VerifyIDToken(t.Context(), tok.IDToken, "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Hits("/keys") - start; n != 1 {
		t.Errorf("8 concurrent verifications after a rotation fetched the keys %d times, want 1", n)
	}
}

// TestIDTokenClaims checks the claims against a provider whose key the
// test holds (an in-memory provider; the signature is good, the claims
// are not).
func TestIDTokenClaims(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	var issuer string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case oidc.WellKnown:
			json.NewEncoder(w).Encode(map[string]string{
				"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
				"token_endpoint": issuer + "/token", "jwks_uri": issuer + "/keys",
			})
		case "/keys":
			json.NewEncoder(w).Encode(jwks(&key.PublicKey, "k1"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer fake.Close()
	issuer = fake.URL
	now := time.Unix(1_800_000_000, 0)
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: issuer, ClientID: "me", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	good := func() map[string]any {
		return map[string]any{
			"iss": issuer, "sub": "u1", "aud": "me", "exp": now.Add(time.Hour).Unix(),
			"iat": now.Unix(), "nonce": "n1",
		}
	}
	if c, err := p.VerifyIDToken(t.Context(), signJWT(t, key, "k1", good()), "n1"); err != nil || c.Subject != "u1" {
		t.Fatalf("good token: %+v, %v", c, err)
	}
	for name, edit := range map[string]func(map[string]any){
		"other issuer":          func(c map[string]any) { c["iss"] = issuer + "/" },
		"no subject":            func(c map[string]any) { delete(c, "sub") },
		"other audience":        func(c map[string]any) { c["aud"] = "you" },
		"several, no azp":       func(c map[string]any) { c["aud"] = []string{"me", "api"} },
		"several, azp other":    func(c map[string]any) { c["aud"] = []string{"me", "api"}; c["azp"] = "api" },
		"expired":               func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() },
		"no exp":                func(c map[string]any) { delete(c, "exp") },
		"issued in the future":  func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() },
		"wrong nonce":           func(c map[string]any) { c["nonce"] = "n2" },
		"no nonce":              func(c map[string]any) { delete(c, "nonce") },
		"audience not a string": func(c map[string]any) { c["aud"] = 7 },
	} {
		c := good()
		edit(c)
		if _, err := p.VerifyIDToken(t.Context(), signJWT(t, key, "k1", c), "n1"); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantIs(t, err, oidc.ErrInvalidIDToken)
		}
	}
	// Within the leeway, and several audiences with azp = us, pass.
	c := good()
	c["exp"] = now.Add(-30 * time.Second).Unix()
	c["aud"] = []string{"me", "api"}
	c["azp"] = "me"
	if _, err := p.VerifyIDToken(t.Context(), signJWT(t, key, "k1", c), "n1"); err != nil {
		t.Errorf("within leeway, azp = me: %v", err)
	}
	// No kid, one key: it is used.
	if _, err := p.VerifyIDToken(t.Context(), signJWT(t, key, "", good()), "n1"); err != nil {
		t.Errorf("no kid: %v", err)
	}
}
