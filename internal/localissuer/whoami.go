package localissuer

import (
	"net/http"
	"regexp"
	"strings"
)

// PathWhoami is the whoami endpoint under Codex's default account API
// base ({issuer}/api/accounts), so CODEX_AUTHAPI_BASE_URL={base}/api/accounts
// points the real Codex CLI at this issuer.
const PathWhoami = "/api/accounts/v1/user-auth-credential/whoami"

// wellFormedAccessToken is what the issuer takes for a personal access
// token: "at-" and at least 8 URL-safe characters.
var wellFormedAccessToken = regexp.MustCompile(`^at-[A-Za-z0-9_-]{8,}$`)

// whoamiAnswer is the endpoint's JSON, as OpenAI's.
type whoamiAnswer struct {
	Email          string `json:"email"`
	UserID         string `json:"chatgpt_user_id"`
	AccountID      string `json:"chatgpt_account_id"`
	PlanType       string `json:"chatgpt_plan_type"`
	AccountFedRAMP bool   `json:"chatgpt_account_is_fedramp"`
}

// handleWhoami answers for any well-formed access token that was not
// revoked, with the current user (SetNextUser); else 401.
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "method_not_allowed", "message": "use GET"}})
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		s.ledger.record(secretAccessToken, token)
	}
	s.mu.Lock()
	s.stats.WhoamiCalls++
	revoked := s.revokedAccessTokens[token]
	u := s.currentUserLocked()
	s.mu.Unlock()
	if !ok || !wellFormedAccessToken.MatchString(token) || revoked {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "invalid_token", "message": "the access token is invalid, expired or revoked"}})
		return
	}
	writeJSON(w, http.StatusOK, whoamiAnswer{Email: u.Email, UserID: u.UserID, AccountID: u.WorkspaceID, PlanType: u.PlanType})
}

// RevokeAccessToken makes whoami reject this access token from now on.
func (s *Server) RevokeAccessToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokedAccessTokens[token] = true
}
