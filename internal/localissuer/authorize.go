package localissuer

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// codeTTL is an authorization code's lifetime (RFC 6749 section 4.1.2
// recommends at most 10 minutes).
const codeTTL = 10 * time.Minute

// validChallenge: an S256 code_challenge is base64url of 32 bytes, 43
// characters (RFC 7636 section 4.2).
func validChallenge(s string) bool { return len(s) == 43 && onlyChars(s, "-_") }

// onlyChars reports whether s holds only ASCII letters, digits and extra.
// (Checked by hand, not with a regexp compiled at package init, which
// every start of the binary would pay for.)
func onlyChars(s, extra string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// authorizeRequest is a validated authorize request.
type authorizeRequest struct {
	redirectURI string
	state       string
	challenge   string
	workspaces  []string // allowed_workspace_id; empty means any
}

// pendingAuthorize is an authorize request waiting on the form.
type pendingAuthorize struct {
	req     authorizeRequest
	expires time.Time
}

// validRedirect reports whether uri is a loopback callback this issuer
// accepts: http, an allowed host, an allowed explicit port, path
// /auth/callback, no query, fragment or user info.
func (s *Server) validRedirect(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Path != "/auth/callback" {
		return false
	}
	host := u.Hostname()
	if !slices.ContainsFunc(s.cfg.AllowedRedirectHosts, func(h string) bool {
		return strings.Trim(h, "[]") == host
	}) {
		return false
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port <= 0 {
		return false
	}
	return slices.Contains(s.cfg.AllowedRedirectPorts, port) || slices.Contains(s.cfg.AllowedRedirectPorts, 0)
}

// redirectError sends the browser back with an error (RFC 6749 4.1.2.1).
func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if state != "" {
		q.Set("state", state)
	}
	http.Redirect(w, r, redirectURI+"?"+q.Encode(), http.StatusFound)
}

// errorPage shows an error the issuer must not redirect (bad client or
// redirect_uri, RFC 6749 section 4.1.2.1).
func errorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl().Execute(w, page{Title: "Sign-in error", Message: msg})
}

// handleAuthorize validates the request, then approves at once or shows
// the form (Config.Form); POST is the form's answer.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s.handleAuthorizeForm(w, r)
		return
	}
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	q := r.URL.Query()
	for k, vs := range q {
		if len(vs) > 1 && k != "allowed_workspace_id" {
			errorPage(w, http.StatusBadRequest, "parameter "+k+" given more than once")
			return
		}
	}
	if q.Get("client_id") != s.cfg.ClientID {
		errorPage(w, http.StatusBadRequest, "unknown client_id")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !s.validRedirect(redirectURI) {
		errorPage(w, http.StatusBadRequest, "redirect_uri is not an allowed loopback callback")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { redirectError(w, r, redirectURI, state, code, desc) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case state == "":
		fail("invalid_request", "state is required")
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		fail("invalid_scope", "scope must include openid")
		return
	case q.Get("code_challenge_method") != "S256":
		// RFC 7636 section 4.4.1: plain (or none) is refused.
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case !validChallenge(q.Get("code_challenge")):
		fail("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)")
		return
	}
	req := authorizeRequest{redirectURI: redirectURI, state: state, challenge: q.Get("code_challenge")}
	for _, v := range q["allowed_workspace_id"] {
		for _, ws := range strings.Split(v, ",") {
			if ws = strings.TrimSpace(ws); ws != "" {
				req.workspaces = append(req.workspaces, ws)
			}
		}
	}
	if s.cfg.Form {
		id := randomToken("")
		s.mu.Lock()
		s.pending[id] = pendingAuthorize{req: req, expires: s.nowLocked().Add(codeTTL)}
		user := s.currentUserLocked()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTmpl().Execute(w, page{Title: "Sign in to Codex (local issuer)", Authorize: true,
			RequestID: id, Users: s.cfg.Users, Current: user.Email})
		return
	}
	s.mu.Lock()
	user := s.currentUserLocked()
	s.mu.Unlock()
	s.approve(w, r, req, user)
}

// handleAuthorizeForm answers the form: request_id, action=approve|deny,
// optional email.
func (s *Server) handleAuthorizeForm(w http.ResponseWriter, r *http.Request) {
	p, err := readParams(r, acceptForm)
	if err != nil {
		errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	pa, ok := s.pending[p.Get("request_id")]
	delete(s.pending, p.Get("request_id"))
	expired := ok && !s.nowLocked().Before(pa.expires)
	user, known := s.currentUserLocked(), true
	if e := p.Get("email"); e != "" {
		user, known = s.userByEmailLocked(e)
	}
	s.mu.Unlock()
	if !ok || expired {
		errorPage(w, http.StatusBadRequest, "unknown or expired sign-in request")
		return
	}
	if !known {
		errorPage(w, http.StatusBadRequest, "unknown account")
		return
	}
	switch p.Get("action") {
	case "approve":
		s.approve(w, r, pa.req, user)
	case "deny":
		redirectError(w, r, pa.req.redirectURI, pa.req.state, "access_denied", "the user denied the request")
	default:
		errorPage(w, http.StatusBadRequest, "action must be approve or deny")
	}
}

// approve issues a code for user and redirects, unless the user's
// workspace is not allowed (then error=access_denied).
func (s *Server) approve(w http.ResponseWriter, r *http.Request, req authorizeRequest, user User) {
	if len(req.workspaces) > 0 && !slices.Contains(req.workspaces, user.WorkspaceID) && !s.cfg.IgnoreAllowedWorkspace {
		redirectError(w, r, req.redirectURI, req.state, "access_denied",
			"the account's workspace is not in allowed_workspace_id")
		return
	}
	code := s.issueCode(req.redirectURI, req.challenge, user)
	q := url.Values{"code": {code}, "state": {req.state}}
	http.Redirect(w, r, req.redirectURI+"?"+q.Encode(), http.StatusFound)
}

// issueCode records a new authorization code.
func (s *Server) issueCode(redirectURI, challenge string, user User) string {
	code := randomToken("ac_local_")
	s.ledger.record(secretCode, code)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &authCode{
		clientID:    s.cfg.ClientID,
		redirectURI: redirectURI,
		challenge:   challenge,
		user:        user,
		expires:     s.nowLocked().Add(codeTTL),
	}
	s.stats.CodesIssued++
	return code
}

// page is the data of every HTML page.
type page struct {
	Title     string
	Message   string
	Authorize bool
	RequestID string
	Users     []User
	Current   string
	Device    bool
}

// pageTmpl is parsed on first use, not at package init: the binary that
// links the issuer (for `codex-auth dev issuer`) also starts as the
// sidecar, whose start-up should not pay for it.
var pageTmpl = sync.OnceValue(func() *template.Template { return template.Must(template.New("page").Parse(pageHTML)) })

const pageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1>
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Authorize}}<form method="post" action="/oauth/authorize">
<input type="hidden" name="request_id" value="{{.RequestID}}">
<label>Account <select name="email">{{range .Users}}<option value="{{.Email}}"{{if eq .Email $.Current}} selected{{end}}>{{.Email}} ({{.PlanType}}, {{.WorkspaceID}})</option>{{end}}</select></label>
<button name="action" value="approve">Continue</button>
<button name="action" value="deny">Cancel</button>
</form>{{end}}
{{if .Device}}<form method="post" action="/codex/device">
<label>Code <input name="user_code" autocomplete="off"></label>
<button name="action" value="approve">Continue</button>
<button name="action" value="deny">Deny</button>
</form>{{end}}
</body></html>
`
