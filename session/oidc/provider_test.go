package oidc_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

func TestDiscovery(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	m := p.Metadata()
	if m.Issuer != srv.URL {
		t.Errorf("issuer = %q, want %q", m.Issuer, srv.URL)
	}
	for name, v := range map[string]string{
		"authorization_endpoint": m.AuthorizationEndpoint, "token_endpoint": m.TokenEndpoint,
		"jwks_uri": m.JWKSURI, "device_authorization_endpoint": m.DeviceAuthorizationEndpoint,
		"revocation_endpoint": m.RevocationEndpoint,
	} {
		if !strings.HasPrefix(v, srv.URL+"/") {
			t.Errorf("%s = %q, want one under %s", name, v, srv.URL)
		}
	}
	if !p.CanRevoke() {
		t.Error("CanRevoke = false, want true")
	}
	if n := srv.Hits(oidc.WellKnown); n != 1 {
		t.Errorf("discovery fetched %d times, want 1", n)
	}

	// The document names http://127.0.0.1:PORT: the same provider under
	// another spelling is refused (OpenID Connect Discovery 1.0 section 4.3).
	for _, issuer := range []string{
		srv.URL + "/",
		strings.Replace(srv.URL, "127.0.0.1", "localhost", 1),
	} {
		_, err := oidc.New(t.Context(), oidc.Config{Issuer: issuer, ClientID: oidctest.PublicClient})
		var ce *oidc.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, oidc.ErrInvalidConfig) || !strings.Contains(ce.Reason, "must match exactly") {
			t.Errorf("New(%q) = %v, want a ConfigError for the issuer", issuer, err)
		}
	}
}

func TestNewRefusesConfig(t *testing.T) {
	for name, cfg := range map[string]oidc.Config{
		"no issuer":    {ClientID: "x"},
		"no client":    {Issuer: "https://id.example.com"},
		"plain http":   {Issuer: "http://id.example.com", ClientID: "x"},
		"no timeout":   {Issuer: "https://id.example.com", ClientID: "x", HTTP: &http.Client{}},
		"not absolute": {Issuer: "id.example.com", ClientID: "x"},
		"query":        {Issuer: "https://id.example.com/?tenant=1", ClientID: "x"},
	} {
		_, err := oidc.New(t.Context(), cfg)
		if !errors.Is(err, oidc.ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestProviderDown(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	tok := login(t, p)
	srv.Close() // the port now refuses connections

	_, err := oidc.New(t.Context(), oidc.Config{Issuer: srv.URL, ClientID: oidctest.PublicClient, HTTP: &http.Client{Timeout: 5 * time.Second}})
	wantUnavailable(t, "New", err)
	_, err = p.Refresh(t.Context(), tok.RefreshToken, tok.Claims.Subject)
	wantUnavailable(t, "Refresh", err)
	_, err = p.DeviceStart(t.Context())
	wantUnavailable(t, "DeviceStart", err)
	wantUnavailable(t, "Revoke", p.Revoke(t.Context(), tok.RefreshToken, oidc.HintRefreshToken))
	if strings.Contains(err.Error(), tok.RefreshToken) {
		t.Errorf("the error %q holds the refresh token", err)
	}
}

// wantUnavailable: a network failure, not an answer.
func wantUnavailable(t *testing.T, op string, err error) {
	t.Helper()
	var pe *oidc.ProviderError
	if !errors.Is(err, oidc.ErrUnavailable) || errors.As(err, &pe) {
		t.Errorf("%s: err = %v, want ErrUnavailable and no ProviderError", op, err)
	}
}
