package oidc

import (
	"context"
	"fmt"
	"strings"
)

// Metadata is the part of the provider's discovery document this package
// uses (OpenID Connect Discovery 1.0 section 3, RFC 8414 section 2,
// RFC 8628 section 4, RFC 7009 via RFC 8414).
type Metadata struct {
	Issuer                      string   `json:"issuer"`
	AuthorizationEndpoint       string   `json:"authorization_endpoint"`
	TokenEndpoint               string   `json:"token_endpoint"`
	JWKSURI                     string   `json:"jwks_uri"`
	UserinfoEndpoint            string   `json:"userinfo_endpoint,omitempty"`
	DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint,omitempty"`
	RevocationEndpoint          string   `json:"revocation_endpoint,omitempty"`
	EndSessionEndpoint          string   `json:"end_session_endpoint,omitempty"`
	TokenEndpointAuthMethods    []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	RevocationAuthMethods       []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	CodeChallengeMethods        []string `json:"code_challenge_methods_supported,omitempty"`
	IDTokenSigningAlgs          []string `json:"id_token_signing_alg_values_supported,omitempty"`
	GrantTypes                  []string `json:"grant_types_supported,omitempty"`
	// IssParameter: the authorization response carries iss (RFC 9207
	// section 3).
	IssParameter bool `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// sameEndpoints reports whether o names the same endpoints as m.
func (m *Metadata) sameEndpoints(o *Metadata) bool {
	return m.AuthorizationEndpoint == o.AuthorizationEndpoint &&
		m.TokenEndpoint == o.TokenEndpoint &&
		m.JWKSURI == o.JWKSURI &&
		m.DeviceAuthorizationEndpoint == o.DeviceAuthorizationEndpoint &&
		m.RevocationEndpoint == o.RevocationEndpoint &&
		m.UserinfoEndpoint == o.UserinfoEndpoint
}

// WellKnown is the path of the discovery document under the issuer
// (OpenID Connect Discovery 1.0 section 4.1).
const WellKnown = "/.well-known/openid-configuration"

// discover fetches and checks the discovery document: the issuer it names
// must be the configured one, character for character (section 4.3;
// otherwise a document served elsewhere could name another issuer's
// endpoints), and the endpoints must be https (or loopback http).
func (p *Provider) discover(ctx context.Context) (*Metadata, error) {
	const op = "discovery"
	var m Metadata
	u := strings.TrimSuffix(p.cfg.Issuer, "/") + WellKnown
	if err := p.getJSON(ctx, op, u, &m); err != nil {
		return nil, err
	}
	if m.Issuer != p.cfg.Issuer {
		return nil, &ConfigError{Field: "issuer", Reason: fmt.Sprintf("the provider's discovery document names issuer %q, not %q (they must match exactly, trailing slash included)", clip(m.Issuer, 200), p.cfg.Issuer)}
	}
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"authorization_endpoint", m.AuthorizationEndpoint, true},
		{"token_endpoint", m.TokenEndpoint, true},
		{"jwks_uri", m.JWKSURI, true},
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint, false},
		{"revocation_endpoint", m.RevocationEndpoint, false},
		{"userinfo_endpoint", m.UserinfoEndpoint, false},
	} {
		if f.value == "" {
			if f.required {
				return nil, fmt.Errorf("%w: %s: the document has no %s", ErrInvalidResponse, op, f.name)
			}
			continue
		}
		if err := checkEndpoint(f.value); err != nil {
			return nil, fmt.Errorf("%w: %s: %s %v", ErrInvalidResponse, op, f.name, err)
		}
	}
	return &m, nil
}
