package localissuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
)

// Grant types and token types the endpoint knows.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
)

// validVerifier: a PKCE code_verifier is 43 to 128 unreserved characters
// (RFC 7636 section 4.1).
func validVerifier(s string) bool { return len(s) >= 43 && len(s) <= 128 && onlyChars(s, "-._~") }

// handleToken dispatches on grant_type. The code and token-exchange grants
// take a form body only (as OpenAI); refresh takes JSON (Codex 0.171) or
// a form.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if rec.status >= 400 {
			s.mu.Lock()
			s.stats.TokenErrors++
			s.mu.Unlock()
		}
	}()
	w = rec
	p, err := readParams(r, acceptForm|acceptJSON)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	isJSON := r.Header.Get("Content-Type") != "" && isJSONType(r.Header.Get("Content-Type"))
	grant := p.Get("grant_type")
	if grant != "refresh_token" && isJSON {
		oauthError(w, http.StatusBadRequest, "invalid_request",
			"this grant takes application/x-www-form-urlencoded")
		return
	}
	switch grant {
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	case "authorization_code", "refresh_token", grantTokenExchange:
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type")
		return
	}
	switch cid := p.Get("client_id"); {
	case cid == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "client_id is required")
		return
	case cid != s.cfg.ClientID:
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client_id")
		return
	}
	switch grant {
	case "authorization_code":
		s.grantCode(w, r, p)
	case "refresh_token":
		s.grantRefresh(w, r, p)
	default:
		s.grantTokenExchange(w, p)
	}
}

// grantCode redeems an authorization code. A code is burnt by its first
// redemption attempt, good or bad; presenting it again also revokes the
// tokens it gave (RFC 6749 section 4.1.2).
func (s *Server) grantCode(w http.ResponseWriter, r *http.Request, p url.Values) {
	for _, k := range []string{"code", "redirect_uri", "code_verifier"} {
		if p.Get(k) == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", k+" is required")
			return
		}
	}
	s.ledger.record(secretCode, p.Get("code"))
	s.ledger.record(secretVerifier, p.Get("code_verifier"))
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[p.Get("code")]
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	case c.used:
		if f := s.families[c.family]; f != nil {
			f.revoked = true
		}
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	}
	c.used = true
	switch {
	case !s.nowLocked().Before(c.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code expired")
		return
	case c.redirectURI != p.Get("redirect_uri"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	case !validVerifier(p.Get("code_verifier")):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier is malformed (RFC 7636 section 4.1)")
		return
	}
	sum := sha256.Sum256([]byte(p.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(b64.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge")
		return
	}
	c.family = randomToken("fam_")
	s.families[c.family] = &family{}
	s.stats.CodesRedeemed++
	s.issueTokensLocked(w, r, c.user, c.family)
}

// grantRefresh rotates a refresh token. Failures are HTTP 401 with
// OpenAI's codes: reused (and the whole family revoked), invalidated
// (unknown or revoked), expired.
func (s *Server) grantRefresh(w http.ResponseWriter, r *http.Request, p url.Values) {
	tok := p.Get("refresh_token")
	if tok == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	s.ledger.record(secretRefreshToken, tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[tok]
	switch {
	case !ok:
		openaiError(w, http.StatusUnauthorized, "refresh_token_invalidated", "The refresh token is not valid.")
		return
	case s.families[rt.family].revoked:
		openaiError(w, http.StatusUnauthorized, "refresh_token_invalidated", "The refresh token was revoked.")
		return
	case rt.used:
		s.families[rt.family].revoked = true
		s.stats.ReuseDetections++
		openaiError(w, http.StatusUnauthorized, "refresh_token_reused",
			"The refresh token was already used; every token of this sign-in is revoked.")
		return
	case !s.nowLocked().Before(rt.expires):
		openaiError(w, http.StatusUnauthorized, "refresh_token_expired", "The refresh token has expired.")
		return
	}
	rt.used = true
	s.stats.Refreshes++
	s.issueTokensLocked(w, r, rt.user, rt.family)
}

// grantTokenExchange trades a valid ID token of this issuer for an API key.
func (s *Server) grantTokenExchange(w http.ResponseWriter, p url.Values) {
	switch {
	case p.Get("requested_token") != "openai-api-key":
		oauthError(w, http.StatusBadRequest, "invalid_request", "requested_token must be openai-api-key")
		return
	case p.Get("subject_token_type") != tokenTypeIDToken:
		oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token_type must be "+tokenTypeIDToken)
		return
	case p.Get("subject_token") == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "subject_token is required")
		return
	}
	s.ledger.record(secretIDToken, p.Get("subject_token"))
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.verify(p.Get("subject_token"), s.nowLocked())
	if err != nil || c["aud"] != s.cfg.ClientID {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "subject_token is not a valid ID token of this issuer")
		return
	}
	s.stats.APIKeyExchanges++
	key := randomToken("sk-local-")
	s.ledger.record(secretAPIKey, key)
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token":      key,
		"issued_token_type": "urn:openai:params:oauth:token-type:api-key",
		"token_type":        "N_A",
	})
}

// issueTokensLocked answers a successful grant with a new token set and a
// new refresh token in family; s.mu held.
func (s *Server) issueTokensLocked(w http.ResponseWriter, r *http.Request, u User, fam string) {
	ts, err := s.mintLocked(u, s.issuerURL(r))
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	rt := randomToken("rt_local_")
	s.ledger.record(secretIDToken, ts.id)
	s.ledger.record(secretAccessToken, ts.access)
	s.ledger.record(secretRefreshToken, rt)
	s.refresh[rt] = &refreshToken{family: fam, user: u, expires: s.nowLocked().Add(s.cfg.RefreshTokenTTL)}
	writeJSON(w, http.StatusOK, map[string]any{
		"id_token":      ts.id,
		"access_token":  ts.access,
		"refresh_token": rt,
		"token_type":    "Bearer",
		"expires_in":    int(s.cfg.AccessTokenTTL.Seconds()),
		"scope":         "openid profile email offline_access",
	})
}

// statusRecorder remembers the status written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
