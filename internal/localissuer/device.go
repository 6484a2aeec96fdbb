package localissuer

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Device endpoint paths.
const (
	pathDeviceUserCode = "/api/accounts/deviceauth/usercode"
	pathDeviceToken    = "/api/accounts/deviceauth/token"
)

// userCodeAlphabet avoids look-alike characters.
const userCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newUserCode returns a code like "K7QX-M2PA".
func newUserCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	out := make([]byte, 0, 9)
	for i, c := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
	}
	return string(out)
}

// normalizeUserCode makes a typed code comparable: upper case, no spaces
// or dashes.
func normalizeUserCode(c string) string {
	return strings.NewReplacer("-", "", " ", "").Replace(strings.ToUpper(strings.TrimSpace(c)))
}

// handleDeviceUserCode starts a device login: JSON {client_id}.
func (s *Server) handleDeviceUserCode(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	if s.cfg.DeviceDisabled {
		openaiError(w, http.StatusNotFound, "not_found", "device code login is not enabled")
		return
	}
	p, err := readParams(r, acceptJSON)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if p.Get("client_id") != s.cfg.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client_id")
		return
	}
	d := &deviceAuth{id: randomToken("deviceauth_"), userCode: newUserCode(), issuer: s.issuerURL(r)}
	s.ledger.record(secretDeviceAuthID, d.id)
	s.mu.Lock()
	d.expires = s.nowLocked().Add(s.cfg.DeviceCodeTTL)
	s.devices[d.id] = d
	s.userCodes[normalizeUserCode(d.userCode)] = d.id
	s.stats.DeviceCodes++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"device_auth_id": d.id,
		"user_code":      d.userCode,
		"interval":       strconv.Itoa(int(s.cfg.DeviceInterval.Seconds())),
	})
}

// handleDeviceToken answers a poll: JSON {device_auth_id, user_code}.
// Pending: 403 authorization_pending. Approved: 200 with the code and the
// server-made PKCE pair, again on every poll until the code is redeemed.
// Denied: 400 access_denied; expired: 400 expired_token; unknown or
// mismatched: 400 invalid_grant.
func (s *Server) handleDeviceToken(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	p, err := readParams(r, acceptJSON)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if p.Get("device_auth_id") == "" || p.Get("user_code") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "device_auth_id and user_code are required")
		return
	}
	s.ledger.record(secretDeviceAuthID, p.Get("device_auth_id"))
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[p.Get("device_auth_id")]
	switch {
	case !ok || d.userCode != p.Get("user_code"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown device_auth_id or user_code")
	case d.state == deviceDenied:
		oauthError(w, http.StatusBadRequest, "access_denied", "the user denied the device code")
	case d.state == deviceApproved:
		if c := s.codes[d.code]; c == nil || c.used {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the device code was already redeemed")
			return
		}
		sum := sha256.Sum256([]byte(d.verifier))
		writeJSON(w, http.StatusOK, map[string]string{
			"authorization_code": d.code,
			"code_challenge":     b64.EncodeToString(sum[:]),
			"code_verifier":      d.verifier,
		})
	case !s.nowLocked().Before(d.expires):
		oauthError(w, http.StatusBadRequest, "expired_token", "the device code expired")
	default:
		oauthError(w, http.StatusForbidden, "authorization_pending", "waiting for the user")
	}
}

// decideDevice approves (for the current user) or denies a user code.
func (s *Server) decideDevice(userCode string, approve bool) error {
	s.mu.Lock()
	id, ok := s.userCodes[normalizeUserCode(userCode)]
	if !ok {
		s.mu.Unlock()
		return ErrUnknownUserCode
	}
	d := s.devices[id]
	switch {
	case d.state != devicePending:
		s.mu.Unlock()
		return ErrDeviceDecided
	case !s.nowLocked().Before(d.expires):
		s.mu.Unlock()
		return ErrDeviceExpired
	}
	if !approve {
		d.state = deviceDenied
		s.stats.DeviceDenials++
		s.mu.Unlock()
		return nil
	}
	// Make the code first and publish it with the approval in one locked
	// step, so a poll never sees "approved" without a code to redeem.
	verifier := randomToken("") + randomToken("") // 52 characters
	s.ledger.record(secretVerifier, verifier)
	user := s.currentUserLocked()
	s.mu.Unlock()
	sum := sha256.Sum256([]byte(verifier))
	code := s.issueCode(d.issuer+"/deviceauth/callback", b64.EncodeToString(sum[:]), user)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.state != devicePending {
		return ErrDeviceDecided
	}
	d.state, d.verifier, d.code = deviceApproved, verifier, code
	s.stats.DeviceApprovals++
	return nil
}

// handleDevicePage shows the code form (GET) and approves or denies
// (POST form: user_code, action=deny to deny).
func (s *Server) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodGet {
		_ = pageTmpl().Execute(w, page{Title: "Enter the code shown in your editor", Device: true})
		return
	}
	p, err := readParams(r, acceptForm)
	if err != nil {
		errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	approve := true
	switch p.Get("action") {
	case "", "approve":
	case "deny":
		approve = false
	default:
		errorPage(w, http.StatusBadRequest, "action must be approve or deny")
		return
	}
	err = s.decideDevice(p.Get("user_code"), approve)
	switch {
	case errors.Is(err, ErrUnknownUserCode):
		errorPage(w, http.StatusNotFound, "unknown code")
	case errors.Is(err, ErrDeviceExpired):
		errorPage(w, http.StatusGone, "this code has expired")
	case errors.Is(err, ErrDeviceDecided):
		errorPage(w, http.StatusConflict, "this code was already used")
	case err != nil:
		errorPage(w, http.StatusInternalServerError, fmt.Sprint(err))
	case approve:
		_ = pageTmpl().Execute(w, page{Title: "Device approved", Message: "You can return to your editor."})
	default:
		_ = pageTmpl().Execute(w, page{Title: "Device denied", Message: "The sign-in was denied."})
	}
}

// handleDeviceCallback is the device flow's nominal redirect_uri; nothing
// is ever redirected there, it only names the code's redirect.
func (s *Server) handleDeviceCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl().Execute(w, page{Title: "Device sign-in", Message: "You can return to your editor."})
}
