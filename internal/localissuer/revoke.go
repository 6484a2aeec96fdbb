package localissuer

import "net/http"

// handleRevoke revokes a refresh token (and its whole family) or notes an
// access token. Unknown tokens still get 200 (RFC 7009 section 2.2); only
// known tokens count as revocations.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	p, err := readParams(r, acceptForm|acceptJSON)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	switch {
	case p.Get("token") == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	case p.Get("client_id") != s.cfg.ClientID:
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client_id")
		return
	}
	switch h := p.Get("token_type_hint"); h {
	case "", "refresh_token", "access_token":
	default:
		// RFC 7009 section 2.2.1.
		oauthError(w, http.StatusBadRequest, "unsupported_token_type", "unknown token_type_hint")
		return
	}
	kind := secretToken
	if h := p.Get("token_type_hint"); h != "" {
		kind = h
	}
	s.ledger.record(kind, p.Get("token"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt, ok := s.refresh[p.Get("token")]; ok {
		s.families[rt.family].revoked = true
		s.stats.Revocations++
	} else if _, err := s.verify(p.Get("token"), s.nowLocked()); err == nil {
		s.stats.Revocations++
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}
