package store

import (
	"encoding/json"
	"strings"
	"time"
)

// Keys of the access-token records.
const (
	keyPersonalAccessToken = "personal_access_token"
	keyAgentIdentity       = "agent_identity"
)

// PersonalAccessTokenPrefix starts every personal access token; Codex
// takes any other access token for an agent identity.
const PersonalAccessTokenPrefix = "at-"

// IsPersonalAccessToken reports whether a token given to
// `login --with-access-token` is a personal access token.
func IsPersonalAccessToken(token string) bool {
	return strings.HasPrefix(token, PersonalAccessTokenPrefix)
}

// PersonalAccessToken is personal_access_token; ok is false when the key
// is absent, null or not a string.
func (r *Record) PersonalAccessToken() (token string, ok bool) {
	return r.extraString(keyPersonalAccessToken)
}

// AgentIdentity is agent_identity when it is a string (the JWT Codex
// 0.171 writes); ok is false when absent or of another shape (older
// Codex versions wrote an object, which codex-auth does not read).
func (r *Record) AgentIdentity() (jwt string, ok bool) {
	return r.extraString(keyAgentIdentity)
}

func (r *Record) extraString(key string) (string, bool) {
	for _, f := range r.Extra {
		if f.Key != key {
			continue
		}
		var s *string
		if json.Unmarshal(f.Value, &s) != nil || s == nil {
			return "", false
		}
		return *s, true
	}
	return "", false
}

// NewPersonalAccessTokenRecord is the record `codex login
// --with-access-token` writes for an at- token, exactly: no auth_mode,
// {"OPENAI_API_KEY": null, "personal_access_token": token}.
func NewPersonalAccessTokenRecord(token string) *Record {
	return &Record{Extra: []RawField{{Key: keyPersonalAccessToken, Value: appendJSONString(nil, token)}}}
}

// NewAgentIdentityRecord is the record Codex writes for an agent identity:
// {"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": jwt}.
func NewAgentIdentityRecord(jwt string) *Record {
	return &Record{AuthMode: AuthModeAgentIdentity, Extra: []RawField{{Key: keyAgentIdentity, Value: appendJSONString(nil, jwt)}}}
}

// AgentClaims are the agent identity JWT claims shown to the user (read
// without a signature check: Codex checks the signature against OpenAI's
// keys before it signs a request; codex-auth only displays them).
type AgentClaims struct {
	RuntimeID string
	AccountID string
	UserID    string
	Email     string
	PlanType  string
	// Expires is exp; zero when absent.
	Expires time.Time
}

// ParseAgentIdentity reads an agent identity JWT's claims. The private
// key claim is never read.
func ParseAgentIdentity(jwt string) (AgentClaims, error) {
	var p struct {
		RuntimeID string       `json:"agent_runtime_id"`
		AccountID string       `json:"account_id"`
		UserID    string       `json:"chatgpt_user_id"`
		Email     string       `json:"email"`
		PlanType  string       `json:"plan_type"`
		Exp       *json.Number `json:"exp"`
	}
	if err := decodeJWTPayload(jwt, &p); err != nil {
		return AgentClaims{}, err
	}
	c := AgentClaims{RuntimeID: p.RuntimeID, AccountID: p.AccountID, UserID: p.UserID, Email: p.Email, PlanType: p.PlanType}
	if p.Exp != nil {
		if f, err := p.Exp.Float64(); err == nil {
			c.Expires = time.Unix(int64(f), 0).UTC()
		}
	}
	return c, nil
}

// PersonalAccessTokenOf is the token of a personal-access-token record;
// false for nil, another mode, or an empty token.
func (r *Record) PersonalAccessTokenOf() (string, bool) {
	if r == nil || r.EffectiveMode() != AuthModePersonalAccessToken {
		return "", false
	}
	t, _ := r.PersonalAccessToken()
	return t, t != ""
}
