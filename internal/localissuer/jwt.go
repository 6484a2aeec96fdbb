package localissuer

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Claim names OpenAI puts its account data under.
const (
	ClaimAuth    = "https://api.openai.com/auth"
	ClaimProfile = "https://api.openai.com/profile"
)

var b64 = base64.RawURLEncoding

// errBadJWT is returned by verify for any token it does not accept.
var errBadJWT = errors.New("issuer: invalid JWT")

// keyID is the kid: the RFC 7638 thumbprint of the public key.
func keyID(pub *rsa.PublicKey) string {
	j := fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`,
		b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()), b64.EncodeToString(pub.N.Bytes()))
	sum := sha256.Sum256([]byte(j))
	return b64.EncodeToString(sum[:])
}

// sign makes an RS256 JWT of claims.
func (s *Server) sign(claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// verify checks an RS256 JWT signed by s and not expired at now and
// returns its claims.
func (s *Server) verify(tok string, now time.Time) (map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errBadJWT
	}
	var h struct{ Alg, Kid string }
	hb, err := b64.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" || h.Kid != s.kid {
		return nil, errBadJWT
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errBadJWT
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, errBadJWT
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errBadJWT
	}
	var c map[string]any
	if json.Unmarshal(pb, &c) != nil {
		return nil, errBadJWT
	}
	exp, ok := c["exp"].(float64)
	if !ok || !now.Before(time.Unix(int64(exp), 0)) {
		return nil, fmt.Errorf("%w: expired", errBadJWT)
	}
	return c, nil
}

// tokenSet is the JWTs of one issuance.
type tokenSet struct {
	id, access string
}

// mintLocked signs an ID token and an access token for u; s.mu held.
func (s *Server) mintLocked(u User, iss string) (tokenSet, error) {
	now := s.nowLocked()
	auth := map[string]any{
		"chatgpt_plan_type":  u.PlanType,
		"chatgpt_user_id":    u.UserID,
		"chatgpt_account_id": u.WorkspaceID,
		"organization_id":    u.OrganizationID,
		"user_id":            u.UserID,
	}
	id, err := s.sign(map[string]any{
		"iss":            iss,
		"aud":            s.cfg.ClientID,
		"sub":            u.UserID,
		"iat":            now.Unix(),
		"auth_time":      now.Unix(),
		"exp":            now.Add(s.cfg.IDTokenTTL).Unix(),
		"jti":            randomToken(""),
		"email":          u.Email,
		ClaimAuth:        auth,
		ClaimProfile:     map[string]any{"email": u.Email, "email_verified": true},
		"email_verified": true,
	})
	if err != nil {
		return tokenSet{}, err
	}
	access, err := s.sign(map[string]any{
		"iss":        iss,
		"aud":        []string{"https://api.openai.com/v1"},
		"client_id":  s.cfg.ClientID,
		"sub":        u.UserID,
		"iat":        now.Unix(),
		"nbf":        now.Unix(),
		"exp":        now.Add(s.cfg.AccessTokenTTL).Unix(),
		"jti":        randomToken(""),
		"scp":        []string{"openid", "profile", "email", "offline_access"},
		ClaimAuth:    auth,
		ClaimProfile: map[string]any{"email": u.Email, "email_verified": true},
	})
	if err != nil {
		return tokenSet{}, err
	}
	return tokenSet{id: id, access: access}, nil
}

// handleJWKS serves the public key (RFC 7517).
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	pub := &s.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": s.kid,
		"n": b64.EncodeToString(pub.N.Bytes()),
		"e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// handleDiscovery serves the OpenID Connect discovery document.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	iss := s.issuerURL(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/oauth/authorize",
		"token_endpoint":                        iss + "/oauth/token",
		"revocation_endpoint":                   iss + "/oauth/revoke",
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", grantTokenExchange},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"subject_types_supported":               []string{"public"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"none"},
	})
}
