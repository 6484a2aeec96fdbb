package e2eutil

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
)

// ChatGPTRecord signs in at the local issuer at base (which must allow
// redirect port 0 or 1455) and returns auth.json bytes for the ChatGPT
// login, as Codex writes them.
func ChatGPTRecord(ctx context.Context, base string) ([]byte, error) {
	vb := make([]byte, 64)
	rand.Read(vb)
	verifier := base64.RawURLEncoding.EncodeToString(vb)
	sum := sha256.Sum256([]byte(verifier))
	redirect := "http://localhost:1455/auth/callback"
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {localissuer.DefaultClientID},
		"redirect_uri":          {redirect},
		"scope":                 {"openid profile email offline_access"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {"e2e-state"},
	}
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth/authorize?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("authorize: HTTP %d without a redirect", resp.StatusCode)
	}
	code := loc.Query().Get("code")
	if code == "" {
		return nil, fmt.Errorf("authorize: redirect without a code: %s", loc.Query().Get("error"))
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirect},
		"client_id":     {localissuer.DefaultClientID},
		"code_verifier": {verifier},
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("code exchange: HTTP %d", resp.StatusCode)
	}
	var tr struct {
		IDToken      string `json:"id_token"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, err
	}
	if tr.IDToken == "" || tr.AccessToken == "" || tr.RefreshToken == "" {
		return nil, errors.New("code exchange: a token is missing")
	}
	accountID, err := workspaceOf(tr.IDToken)
	if err != nil {
		return nil, err
	}
	rec := struct {
		AuthMode    string  `json:"auth_mode"`
		APIKey      *string `json:"OPENAI_API_KEY"`
		Tokens      Tokens  `json:"tokens"`
		LastRefresh string  `json:"last_refresh"`
	}{"chatgpt", nil, Tokens{tr.IDToken, tr.AccessToken, tr.RefreshToken, &accountID}, time.Now().UTC().Format(time.RFC3339Nano)}
	return json.MarshalIndent(rec, "", "  ")
}

// workspaceOf reads chatgpt_account_id from an ID token's payload.
func workspaceOf(idToken string) (string, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return "", errors.New("ID token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("ID token payload: %w", err)
	}
	var claims struct {
		Auth struct {
			AccountID string `json:"chatgpt_account_id"`
		} `json:"https://api.openai.com/auth"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("ID token payload: %w", err)
	}
	return claims.Auth.AccountID, nil
}
