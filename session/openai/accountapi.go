package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/codex-auth/codex-auth/session/oauth"
)

// AuthAPIPath is where the Codex CLI finds its account API under the
// issuer (its default base is https://auth.openai.com/api/accounts).
const AuthAPIPath = "/api/accounts"

// whoamiPath is the endpoint under the account API base.
const whoamiPath = "/v1/user-auth-credential/whoami"

// ErrAccessTokenRejected: the sign-in server answered 401 or 403 to the
// access token (revoked, expired, or never valid).
var ErrAccessTokenRejected = errors.New("the sign-in server rejected the personal access token")

// AccessTokenInfo is what the whoami endpoint says about a personal access
// token. No field is a secret.
type AccessTokenInfo struct {
	Email       string
	UserID      string
	WorkspaceID string
	PlanType    string
	FedRAMP     bool
}

// AuthAPI is the Codex account API (`CODEX_AUTHAPI_BASE_URL`, default the
// issuer + AuthAPIPath). Safe for concurrent use.
type AuthAPI struct {
	base string
	http *http.Client
}

// NewAuthAPI validates base (https, or http on a loopback host) and the
// client (which must have a timeout).
func NewAuthAPI(base string, hc *http.Client) (*AuthAPI, error) {
	if hc == nil || hc.Timeout <= 0 {
		return nil, &ConfigError{Field: "AuthAPI.HTTP", Reason: "an HTTP client with a timeout is required"}
	}
	b, err := openaiCheckURL("CODEX_AUTHAPI_BASE_URL", base)
	if err != nil {
		return nil, err
	}
	// Never follow a redirect: the request carries the token (as New).
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &AuthAPI{base: strings.TrimRight(b, "/"), http: &c}, nil
}

// Base is the account API base URL.
func (a *AuthAPI) Base() string { return a.base }

// Whoami is GET {base}/v1/user-auth-credential/whoami with the token as a
// bearer token, as the Codex CLI sends it.
func (a *AuthAPI) Whoami(ctx context.Context, token string) (AccessTokenInfo, error) {
	const op = "whoami"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+whoamiPath, nil)
	if err != nil {
		return AccessTokenInfo{}, fmt.Errorf("%s: building the request: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("originator", DefaultOriginator)
	resp, err := a.http.Do(req)
	if err != nil {
		return AccessTokenInfo{}, openaiNetError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, openaiMaxBody+1))
	if err != nil {
		return AccessTokenInfo{}, openaiNetError(ctx, op, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return AccessTokenInfo{}, fmt.Errorf("%w (%s)", ErrAccessTokenRejected, httpStatusText(resp.StatusCode))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return AccessTokenInfo{}, fmt.Errorf("%w: %s: %s", oauth.ErrIssuerUnavailable, op, httpStatusText(resp.StatusCode))
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		// Not followed (see NewAuthAPI); the Location is not repeated.
		return AccessTokenInfo{}, fmt.Errorf("%w: %w: %s: %s", oauth.ErrIssuerUnavailable, oauth.ErrIssuerRedirect, op, httpStatusText(resp.StatusCode))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return AccessTokenInfo{}, openaiIssuerError(resp.StatusCode, data)
	case len(data) > openaiMaxBody:
		return AccessTokenInfo{}, fmt.Errorf("%w: %s: the answer is too large", oauth.ErrInvalidResponse, op)
	}
	// Codex 0.171 refuses an answer missing any of these (measured: an
	// answer with only email fails with "error decoding response body").
	var body struct {
		Email     *string `json:"email"`
		UserID    *string `json:"chatgpt_user_id"`
		AccountID *string `json:"chatgpt_account_id"`
		PlanType  *string `json:"chatgpt_plan_type"`
		FedRAMP   *bool   `json:"chatgpt_account_is_fedramp"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return AccessTokenInfo{}, fmt.Errorf("%w: %s: the answer is not the expected JSON", oauth.ErrInvalidResponse, op)
	}
	if body.Email == nil || body.UserID == nil || body.AccountID == nil || body.PlanType == nil {
		return AccessTokenInfo{}, fmt.Errorf("%w: %s: the answer lacks email, chatgpt_user_id, chatgpt_account_id or chatgpt_plan_type", oauth.ErrInvalidResponse, op)
	}
	info := AccessTokenInfo{Email: *body.Email, UserID: *body.UserID, WorkspaceID: *body.AccountID, PlanType: *body.PlanType}
	if body.FedRAMP != nil {
		info.FedRAMP = *body.FedRAMP
	}
	return info, nil
}
