package oidc_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

// TestRedirectsNeverFollowed: a redirect from any endpoint is the answer,
// never followed, even with a client whose policy follows them (a plain
// http.Client): a 307 from the token endpoint would send the refresh
// token again to wherever it points. The refresh fails with the 3xx as a
// *ProviderError; discovery, the keys and userinfo alike.
func TestRedirectsNeverFollowed(t *testing.T) {
	srv, px := oidctest.StartWithFaults(t)
	hc := &http.Client{Timeout: 10 * time.Second} // follows redirects by default
	cfg := oidc.Config{Issuer: srv.URL, ClientID: oidctest.PublicClient, HTTP: hc}

	px.Arm(oidctest.Fault{Kind: oidctest.FaultRedirect, Path: oidctest.PathDiscovery, Status: http.StatusFound, Count: 1})
	if _, err := oidc.New(t.Context(), cfg); err == nil {
		t.Errorf("New through a redirected discovery succeeded")
	}
	p, err := oidc.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	px.Arm(oidctest.Fault{Kind: oidctest.FaultRedirect, Path: oidctest.PathKeys, Status: http.StatusFound, Count: 1})
	r := browserLogin(t, p, "127.0.0.1")
	if _, err := p.Exchange(t.Context(), r.code, r.verifier, r.redirectURI, r.nonce); err == nil {
		t.Errorf("an ID token was checked against keys from a redirect")
	}
	tok := login(t, p)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		px.Arm(oidctest.Fault{Kind: oidctest.FaultRedirect, Path: oidctest.PathToken, Status: status, Count: 1})
		_, err := p.Refresh(t.Context(), tok.RefreshToken, tok.Claims.Subject)
		var pe *oidc.ProviderError
		if !errors.As(err, &pe) || pe.Status != status {
			t.Errorf("refresh answered %d: %v, want a *ProviderError with that status", status, err)
		}
	}
	px.Arm(oidctest.Fault{Kind: oidctest.FaultRedirect, Path: oidctest.PathUserinfo, Status: http.StatusTemporaryRedirect, Count: 1})
	if _, err := p.UserInfo(t.Context(), tok.AccessToken, tok.Claims.Subject); err == nil {
		t.Errorf("userinfo through a redirect succeeded")
	}
	if n := px.RedirectsFollowed(); n != 0 {
		t.Errorf("%d redirects followed, want 0", n)
	}
	if _, err := p.Refresh(t.Context(), tok.RefreshToken, tok.Claims.Subject); err != nil {
		t.Errorf("the refresh after the redirects (the token was never sent elsewhere, nor spent): %v", err)
	}
}
