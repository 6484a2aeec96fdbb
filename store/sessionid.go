package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"regexp"
)

// Identity says whose credentials a record holds, as the saved accounts
// count them: one saved account per identity. It is never a secret: keys
// and tokens appear only as SHA-256 fingerprints. "" when the record
// cannot be told apart from others (an unsupported mode, or a ChatGPT
// record whose ID token names no user).
//
//   - ChatGPT: the user id claim (else the email) and the workspace
//     (store.Account.WorkspaceID): a workspace alone is shared by a team,
//     and one user signed in to two workspaces is two logins;
//   - API key, personal access token: a fingerprint of the key or token;
//   - agent identity: its workspace and runtime id (else a fingerprint of
//     the JWT).
func (r *Record) Identity() string {
	if r == nil || !r.Supported() {
		return ""
	}
	switch mode := r.EffectiveMode(); mode {
	case AuthModeAPIKey:
		return "apikey:" + fingerprint(*r.APIKey)
	case AuthModePersonalAccessToken:
		t, _ := r.PersonalAccessToken()
		return "pat:" + fingerprint(t)
	case AuthModeAgentIdentity:
		a := r.Account()
		if a.RuntimeID != "" {
			return "agent:" + fingerprint(a.WorkspaceID, a.RuntimeID)
		}
		jwt, _ := r.AgentIdentity()
		return "agent:" + fingerprint(jwt)
	case AuthModeChatGPT:
		a := r.Account()
		user := a.UserID
		if user == "" {
			user = a.Email
		}
		if user == "" {
			return ""
		}
		return "chatgpt:" + fingerprint(user, a.WorkspaceID)
	}
	return ""
}

// SessionID is the saved-account id codex-auth gives an identity: a UUID
// (RFC 9562 version 8, the SHA-256 name-based layout of its appendix B.2)
// of the identity, so that it is stable, a safe folder name, and the form
// Codex's newer source expects in account-sessions.json (it refuses ids
// that do not parse as UUIDs). "" for an empty identity.
func SessionID(identity string) string {
	if identity == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("codex-auth saved account\x00" + identity))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// validSessionID: a safe folder and keyring name ([A-Za-z0-9._-], at most
// 64 characters, not . or ..). Ids codex-auth makes are UUIDs; ids other
// programs wrote (Codex's are UUIDs too) are accepted when safe.
var validSessionID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidSessionID reports whether id can name a saved account.
func ValidSessionID(id string) bool {
	return validSessionID.MatchString(id) && id != "." && id != ".."
}

// fingerprint is the hex SHA-256 of the parts, each length prefixed so
// that no two different lists hash alike.
func fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
