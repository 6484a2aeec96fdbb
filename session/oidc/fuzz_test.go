package oidc_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/session/oidc"
)

// pathTransport answers each path with its own status and body, without
// a socket.
type pathTransport map[string]struct {
	status int
	body   []byte
}

func (p pathTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	a, ok := p[r.URL.Path]
	if !ok {
		a.status, a.body = 404, []byte(`{"error":"not_found"}`)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

const fuzzRT = "rt-SECRET-fuzz-0123456789"

// FuzzProviderAnswers gives a provider arbitrary discovery, JWKS and
// token answers and refreshes through it: never a panic; New fails only
// with a configuration, availability, provider or invalid-response
// error; a refresh only with those or an invalid ID token; a success has
// an access token; and no error repeats the refresh token sent.
func FuzzProviderAnswers(f *testing.F) {
	disc := `{"issuer":"https://op.example","authorization_endpoint":"https://op.example/authorize","token_endpoint":"https://op.example/token","jwks_uri":"https://op.example/keys"}`
	f.Add(200, []byte(disc), 200, []byte(`{"keys":[]}`), 200, []byte(`{"access_token":"a","token_type":"Bearer","expires_in":60}`))
	f.Add(200, []byte(disc), 200, []byte(`{"keys":[{"kty":"RSA","kid":"1","n":"AQAB","e":"AQAB"}]}`), 200, []byte(`{"access_token":"a","token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.e30.c2ln"}`))
	f.Add(200, []byte(disc), 200, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`), 400, []byte(`{"error":"invalid_grant"}`))
	f.Add(200, []byte(`{"issuer":"https://evil.example"}`), 200, []byte(`{}`), 200, []byte(`{}`))
	f.Add(500, []byte(`<html>`), 200, []byte(`{}`), 200, []byte(`{}`))
	f.Add(200, []byte(disc), 200, []byte(`{}`), 200, []byte(`{"access_token":`))
	f.Add(200, []byte(disc), 200, []byte(`{}`), 503, []byte(`{"error":"temporarily_unavailable"}`))
	f.Fuzz(func(t *testing.T, discStatus int, discBody []byte, keysStatus int, keysBody []byte, tokenStatus int, tokenBody []byte) {
		for _, s := range []int{discStatus, keysStatus, tokenStatus} {
			if s < 100 || s > 599 {
				return
			}
		}
		tr := pathTransport{
			oidc.WellKnown: {discStatus, discBody},
			"/keys":        {keysStatus, keysBody},
			"/token":       {tokenStatus, tokenBody},
		}
		ctx := context.Background()
		p, err := oidc.New(ctx, oidc.Config{Issuer: "https://op.example", ClientID: "app",
			HTTP: &http.Client{Timeout: time.Minute, Transport: tr}})
		if err != nil {
			var pe *oidc.ProviderError
			if !errors.Is(err, oidc.ErrInvalidConfig) && !errors.Is(err, oidc.ErrUnavailable) &&
				!errors.Is(err, oidc.ErrInvalidResponse) && !errors.As(err, &pe) {
				t.Fatalf("New: an error of no documented kind: %v", err)
			}
			return
		}
		tok, err := p.Refresh(ctx, fuzzRT, "subject-1")
		if err != nil {
			var pe *oidc.ProviderError
			if !errors.Is(err, oidc.ErrUnavailable) && !errors.Is(err, oidc.ErrInvalidResponse) &&
				!errors.Is(err, oidc.ErrInvalidIDToken) && !errors.As(err, &pe) {
				t.Fatalf("Refresh: an error of no documented kind: %v", err)
			}
			if strings.Contains(err.Error(), fuzzRT) {
				t.Fatalf("Refresh: the error repeats the refresh token")
			}
			return
		}
		if tokenStatus < 200 || tokenStatus > 299 {
			t.Fatalf("Refresh succeeded on HTTP %d", tokenStatus)
		}
		if tok.AccessToken == "" {
			t.Fatalf("Refresh succeeded without an access token")
		}
	})
}
