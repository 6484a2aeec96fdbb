package oidc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Token type hints for Revoke (RFC 7009 section 2.1).
const (
	HintRefreshToken = "refresh_token"
	HintAccessToken  = "access_token"
)

// CanRevoke reports whether the provider advertises a revocation_endpoint.
func (p *Provider) CanRevoke() bool { return p.metadata().RevocationEndpoint != "" }

// Revoke revokes token at the provider's revocation_endpoint (RFC 7009
// section 2.1; revoking a refresh token also ends the access tokens of
// its grant, section 2.1 last paragraph). hint is HintRefreshToken,
// HintAccessToken or "". A provider that advertises no endpoint makes it
// a no-op (nil). A token the provider does not know is success (section
// 2.2). Errors: *ProviderError (503 also matches ErrUnavailable; retry
// later, section 2.2.1), ErrUnavailable.
func (p *Provider) Revoke(ctx context.Context, token, hint string) error {
	const op = "revoke"
	return p.withEndpoints(ctx, func(m *Metadata) error {
		if m.RevocationEndpoint == "" {
			return nil
		}
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		// client_secret_basic unless only client_secret_post is advertised.
		basic := p.cfg.ClientSecret != "" &&
			(slices.Contains(m.RevocationAuthMethods, "client_secret_basic") ||
				!slices.Contains(m.RevocationAuthMethods, "client_secret_post"))
		switch {
		case basic:
		case p.cfg.ClientSecret != "":
			form.Set("client_id", p.cfg.ClientID)
			form.Set("client_secret", p.cfg.ClientSecret)
		default:
			form.Set("client_id", p.cfg.ClientID)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.RevocationEndpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return fmt.Errorf("%s: building the request: %w", op, err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if basic {
			// RFC 6749 section 2.3.1: both parts form-encoded first.
			req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
		}
		resp, err := p.http.Do(req)
		if err != nil {
			return classify(ctx, op, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body) // in memory already (slurp)
		if resp.StatusCode/100 == 2 {
			return nil
		}
		return answerError(op, resp.StatusCode, data)
	})
}
