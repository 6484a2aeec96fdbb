package oidc

import (
	"context"
	"encoding/json"
	"fmt"
)

// UserInfo is the provider's answer about the signed-in user (OpenID
// Connect Core 1.0 section 5.3.2). Many providers put email and name in
// the ID token only when no access token was issued (section 5.4), so an
// app that shows them asks here.
type UserInfo struct {
	Subject           string
	Email             string
	EmailVerified     bool
	Name              string
	PreferredUsername string
}

// UserInfo asks the userinfo_endpoint about the user with accessToken.
// The answer's sub must be subject (section 5.3.2: otherwise it must not
// be used). ErrNotSupported when the provider advertises no endpoint; a
// signed or encrypted answer (application/jwt) is ErrInvalidResponse.
func (p *Provider) UserInfo(ctx context.Context, accessToken, subject string) (UserInfo, error) {
	const op = "userinfo"
	var raw struct {
		Sub               string          `json:"sub"`
		Email             string          `json:"email"`
		EmailVerified     json.RawMessage `json:"email_verified"`
		Name              string          `json:"name"`
		PreferredUsername string          `json:"preferred_username"`
	}
	err := p.withEndpoints(ctx, func(m *Metadata) error {
		if m.UserinfoEndpoint == "" {
			return fmt.Errorf("%w: %s: the provider advertises no userinfo_endpoint", ErrNotSupported, op)
		}
		return p.getJSONAuth(ctx, op, m.UserinfoEndpoint, accessToken, &raw)
	})
	if err != nil {
		return UserInfo{}, err
	}
	if raw.Sub == "" || raw.Sub != subject {
		return UserInfo{}, fmt.Errorf("%w: %s: the answer is about another user", ErrInvalidResponse, op)
	}
	var ev any
	_ = json.Unmarshal(raw.EmailVerified, &ev)
	return UserInfo{
		Subject:           raw.Sub,
		Email:             raw.Email,
		EmailVerified:     ev == true || ev == "true",
		Name:              raw.Name,
		PreferredUsername: raw.PreferredUsername,
	}, nil
}
