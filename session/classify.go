// classify.go: what a change of the stored credentials means to the editor.

package session

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"

	"github.com/codex-auth/codex-auth/store"
)

// SnapshotState is the kind of thing found in the credential store.
type SnapshotState int

// The states a Snapshot can be in.
const (
	// SnapLoggedOut: nothing is stored.
	SnapLoggedOut SnapshotState = iota
	// SnapAPIKey: an API-key record.
	SnapAPIKey
	// SnapChatGPT: a ChatGPT record (tokens).
	SnapChatGPT
	// SnapCorrupt: the stored bytes are not an auth record.
	SnapCorrupt
	// SnapUnsupported: a record in a mode codex-auth does not handle.
	SnapUnsupported
	// SnapUnavailable: the store could not be read (keyring locked, I/O
	// error). Says nothing about the credentials: Classify ignores it and
	// the caller keeps its previous snapshot.
	SnapUnavailable
	// SnapPersonalAccessToken: a personal access token record.
	SnapPersonalAccessToken
	// SnapAgentIdentity: an agent identity record.
	SnapAgentIdentity
)

// String names the state, for logs.
func (s SnapshotState) String() string {
	switch s {
	case SnapLoggedOut:
		return "loggedOut"
	case SnapAPIKey:
		return "apiKey"
	case SnapChatGPT:
		return "chatgpt"
	case SnapCorrupt:
		return "corrupt"
	case SnapUnsupported:
		return "unsupported"
	case SnapUnavailable:
		return "unavailable"
	case SnapPersonalAccessToken:
		return "personalAccessToken"
	case SnapAgentIdentity:
		return "agentIdentity"
	}
	return "unknown"
}

// LoggedIn reports whether the state is a usable session.
func (s SnapshotState) LoggedIn() bool {
	switch s {
	case SnapAPIKey, SnapChatGPT, SnapPersonalAccessToken, SnapAgentIdentity:
		return true
	}
	return false
}

// Snapshot is what the editor was (or is about to be) told about the
// stored credentials. It holds no secret: keys and tokens appear only as
// SHA-256 fingerprints. Snapshots are comparable with ==.
type Snapshot struct {
	State SnapshotState
	// Identity says whose credentials these are: "apikey:" and the key's
	// fingerprint, or "chatgpt:" workspace "/" user (the user id claim,
	// else the email). "" when it cannot be told (unreadable ID token).
	Identity string
	// TokensFP fingerprints the secret material (the key, or the three
	// tokens): it changes on every refresh.
	TokensFP string
	// Mode is the record's effective auth_mode (possibly an unsupported
	// mode's name); "" without a record.
	Mode store.AuthMode
	// Email, PlanType and WorkspaceID come from the record's account view
	// (store.Record.Account).
	Email       string
	PlanType    string
	WorkspaceID string
	// Problem is set for SnapCorrupt, SnapUnsupported and SnapUnavailable:
	// a message safe to show.
	Problem string
}

// SnapshotOf summarises the result of Store.Load: (nil, nil) is logged
// out; a *store.CorruptError is SnapCorrupt; any other error is
// SnapUnavailable.
func SnapshotOf(rec *store.Record, loadErr error) Snapshot {
	if loadErr != nil {
		var ce *store.CorruptError
		if errors.As(loadErr, &ce) {
			return Snapshot{State: SnapCorrupt, Problem: ce.Error()}
		}
		return Snapshot{State: SnapUnavailable, Problem: loadErr.Error()}
	}
	if rec == nil {
		return Snapshot{State: SnapLoggedOut}
	}
	mode := rec.EffectiveMode()
	if !rec.Supported() {
		return Snapshot{State: SnapUnsupported, Mode: mode, Problem: ErrUnsupportedRecord.Error() + " (" + string(mode) + ")"}
	}
	switch mode {
	case store.AuthModeAPIKey:
		fp := classifyFingerprint(*rec.APIKey)
		return Snapshot{State: SnapAPIKey, Mode: mode, Identity: "apikey:" + fp, TokensFP: fp}
	case store.AuthModePersonalAccessToken:
		// Whose token it is takes a whoami request: the token is the
		// identity (a new token is another login, as with an API key).
		t, _ := rec.PersonalAccessToken()
		fp := classifyFingerprint(t)
		return Snapshot{State: SnapPersonalAccessToken, Mode: mode, Identity: "pat:" + fp, TokensFP: fp}
	case store.AuthModeAgentIdentity:
		jwt, _ := rec.AgentIdentity()
		a := rec.Account()
		s := Snapshot{State: SnapAgentIdentity, Mode: mode, TokensFP: classifyFingerprint(jwt),
			Email: a.Email, PlanType: a.PlanType, WorkspaceID: a.WorkspaceID}
		if a.RuntimeID != "" {
			s.Identity = "agent:" + a.WorkspaceID + "/" + a.RuntimeID
		}
		return s
	}
	t := rec.Tokens
	// An unreadable ID token leaves the claims empty: the identity is then
	// unknown rather than an error, as Codex only displays these claims.
	a := rec.Account()
	s := Snapshot{
		State:       SnapChatGPT,
		Mode:        mode,
		TokensFP:    classifyFingerprint(t.IDToken, t.AccessToken, t.RefreshToken),
		Email:       a.Email,
		PlanType:    a.PlanType,
		WorkspaceID: a.WorkspaceID,
	}
	user := a.UserID
	if user == "" {
		user = a.Email
	}
	if user != "" {
		s.Identity = "chatgpt:" + s.WorkspaceID + "/" + user
	}
	return s
}

// classifyFingerprint is the hex SHA-256 of the parts, each length
// prefixed so that no two different lists hash alike.
func classifyFingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Verdict says what to tell the editor about a change.
type Verdict struct {
	// Changed: send account/updated.
	Changed bool
	// Refreshed: same account, new key material (another process
	// refreshed): adopt the new tokens silently, dropping any cached ones.
	Refreshed bool
	// Invalidation is "" or a Reason* constant: send
	// account/sessionInvalidated with it and Message.
	Invalidation InvalidationReason
	// Message explains the invalidation; safe to show.
	Message string
}

// Messages sent with an invalidation.
const (
	classifyMsgLoggedOut      = "Signed out in another process (the Codex CLI or another editor)."
	classifyMsgAccountChanged = "Another process signed in with a different account or API key."
	classifyMsgUnsupported    = "Another process stored credentials that use a sign-in method codex-auth does not support."
)

// Classify compares what the editor was last told (prev) with what the
// store holds now (next). A SnapUnavailable next says nothing and yields
// the zero Verdict (keep prev). Rules:
//   - unchanged: nothing;
//   - logged in, same identity: tokens refreshed elsewhere are adopted
//     silently (Refreshed); Changed only when mode, email, plan or
//     workspace changed; never an invalidation;
//   - logged in -> logged out: loggedOut;
//   - logged in -> another identity, or an unsupported record:
//     accountChanged;
//   - logged in -> corrupt: credentialsCorrupted (not a logout);
//   - from not logged in (out, corrupt, unsupported, unavailable) to
//     anything different: Changed, no invalidation.
//
// When either identity is unknown (an unreadable ID token), records of the
// same mode count as the same account: a refresh is far more likely than
// a silent account switch, and a false invalidation would sign the editor
// out for nothing.
func Classify(prev, next Snapshot) Verdict {
	if next.State == SnapUnavailable || prev == next {
		return Verdict{}
	}
	if !prev.State.LoggedIn() {
		return Verdict{Changed: true}
	}
	switch next.State {
	case SnapLoggedOut:
		return Verdict{Changed: true, Invalidation: ReasonLoggedOut, Message: classifyMsgLoggedOut}
	case SnapCorrupt:
		return Verdict{Changed: true, Invalidation: ReasonCredentialsCorrupted, Message: next.Problem}
	case SnapUnsupported:
		return Verdict{Changed: true, Invalidation: ReasonAccountChanged, Message: classifyMsgUnsupported}
	}
	if !classifySameAccount(prev, next) {
		return Verdict{Changed: true, Invalidation: ReasonAccountChanged, Message: classifyMsgAccountChanged}
	}
	return Verdict{
		Changed:   prev.Mode != next.Mode || prev.Email != next.Email || prev.PlanType != next.PlanType || prev.WorkspaceID != next.WorkspaceID,
		Refreshed: prev.TokensFP != next.TokensFP,
	}
}

// classifySameAccount: both logged in, same state, and the same identity
// (an unknown identity matches any, see Classify).
func classifySameAccount(prev, next Snapshot) bool {
	if prev.State != next.State {
		return false
	}
	if prev.Identity == "" || next.Identity == "" {
		return true
	}
	return prev.Identity == next.Identity
}
