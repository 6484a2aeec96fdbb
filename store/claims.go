package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// ErrNotJWT: the token is not a JWT with a JSON payload.
var ErrNotJWT = errors.New("not a JWT")

// Claims are the ID token claims Codex reads (no signature check: the
// token came from the issuer over TLS and is only shown, never trusted
// for access decisions).
type Claims struct {
	Email    string
	PlanType string
	UserID   string
	// AccountID is chatgpt_account_id: the workspace.
	AccountID      string
	OrganizationID string
	ProjectID      string
}

// ParseIDToken reads the claims from a JWT's payload (RFC 7519 section 7.2
// steps, minus the signature check): email at the top level, else under
// https://api.openai.com/profile; the rest under
// https://api.openai.com/auth.
func ParseIDToken(jwt string) (Claims, error) {
	var p struct {
		Email   string `json:"email"`
		Profile struct {
			Email string `json:"email"`
		} `json:"https://api.openai.com/profile"`
		Auth struct {
			PlanType       string `json:"chatgpt_plan_type"`
			ChatGPTUserID  string `json:"chatgpt_user_id"`
			UserID         string `json:"user_id"`
			AccountID      string `json:"chatgpt_account_id"`
			OrganizationID string `json:"organization_id"`
			ProjectID      string `json:"project_id"`
		} `json:"https://api.openai.com/auth"`
	}
	if err := decodeJWTPayload(jwt, &p); err != nil {
		return Claims{}, err
	}
	c := Claims{
		Email:          p.Email,
		PlanType:       p.Auth.PlanType,
		UserID:         p.Auth.ChatGPTUserID,
		AccountID:      p.Auth.AccountID,
		OrganizationID: p.Auth.OrganizationID,
		ProjectID:      p.Auth.ProjectID,
	}
	if c.Email == "" {
		c.Email = p.Profile.Email
	}
	if c.UserID == "" {
		c.UserID = p.Auth.UserID
	}
	return c, nil
}

// TokenExpiry reads a JWT's exp claim (RFC 7519 section 4.1.4); false when
// the token is not a JWT or has no numeric exp.
func TokenExpiry(jwt string) (time.Time, bool) {
	return tokenTime(jwt, "exp")
}

// TokenIssuedAt reads a JWT's iat claim (RFC 7519 section 4.1.6), without
// checking anything; false when absent or not a JWT.
func TokenIssuedAt(jwt string) (time.Time, bool) {
	return tokenTime(jwt, "iat")
}

// tokenTime reads the NumericDate claim name of a JWT.
func tokenTime(jwt, name string) (time.Time, bool) {
	var p map[string]json.RawMessage
	if decodeJWTPayload(jwt, &p) != nil || p[name] == nil {
		return time.Time{}, false
	}
	var n json.Number
	if json.Unmarshal(p[name], &n) != nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// decodeJWTPayload decodes the middle part of a compact JWS (RFC 7515
// section 7.1) into v. Padding is tolerated; errors never echo the token.
func decodeJWTPayload(jwt string, v any) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ErrNotJWT
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ErrNotJWT
	}
	if json.Unmarshal(b, v) != nil {
		return ErrNotJWT
	}
	return nil
}
