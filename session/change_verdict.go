package session

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"

	"github.com/codex-auth/codex-auth/store"
)

// snapshotState is the kind of thing found in the credential store.
type snapshotState int

// The states a snapshot can be in.
const (
	// snapLoggedOut: nothing is stored.
	snapLoggedOut snapshotState = iota
	// snapAPIKey: an API-key record.
	snapAPIKey
	// snapChatGPT: a ChatGPT record (tokens).
	snapChatGPT
	// snapCorrupt: the stored bytes are not an auth record.
	snapCorrupt
	// snapUnsupported: a record in a mode codex-auth does not handle.
	snapUnsupported
	// snapUnavailable: the store could not be read (keyring locked, I/O
	// error). Says nothing about the credentials: Classify ignores it and
	// the caller keeps its previous snapshot.
	snapUnavailable
	// snapPersonalAccessToken: a personal access token record.
	snapPersonalAccessToken
	// snapAgentIdentity: an agent identity record.
	snapAgentIdentity
	// snapOIDC: a provider's record (tokens of an OpenID provider).
	snapOIDC
)

// String names the state, for logs.
func (s snapshotState) String() string {
	switch s {
	case snapLoggedOut:
		return "loggedOut"
	case snapAPIKey:
		return "apiKey"
	case snapChatGPT:
		return "chatgpt"
	case snapCorrupt:
		return "corrupt"
	case snapUnsupported:
		return "unsupported"
	case snapUnavailable:
		return "unavailable"
	case snapPersonalAccessToken:
		return "personalAccessToken"
	case snapAgentIdentity:
		return "agentIdentity"
	case snapOIDC:
		return "oidc"
	}
	return "unknown"
}

// LoggedIn reports whether the state is a usable session.
func (s snapshotState) LoggedIn() bool {
	switch s {
	case snapAPIKey, snapChatGPT, snapPersonalAccessToken, snapAgentIdentity, snapOIDC:
		return true
	}
	return false
}

// snapshot is what the editor was (or is about to be) told about the
// stored credentials. It holds no secret: keys and tokens appear only as
// SHA-256 fingerprints. Snapshots are comparable with ==.
type snapshot struct {
	State snapshotState
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
	// Problem is set for snapCorrupt, snapUnsupported and snapUnavailable:
	// a message safe to show.
	Problem string
}

// snapshotOf summarises the result of Store.Load: (nil, nil) is logged
// out; a *store.CorruptError is snapCorrupt; any other error is
// snapUnavailable.
func snapshotOf(rec *store.Record, loadErr error) snapshot {
	if loadErr != nil {
		var ce *store.CorruptError
		if errors.As(loadErr, &ce) {
			return snapshot{State: snapCorrupt, Problem: ce.Error()}
		}
		return snapshot{State: snapUnavailable, Problem: loadErr.Error()}
	}
	if rec == nil {
		return snapshot{State: snapLoggedOut}
	}
	mode := rec.EffectiveMode()
	if !rec.Supported() {
		return snapshot{State: snapUnsupported, Mode: mode, Problem: ErrUnsupportedRecord.Error() + " (" + string(mode) + ")"}
	}
	switch mode {
	case store.AuthModeAPIKey:
		fp := classifyFingerprint(*rec.APIKey)
		return snapshot{State: snapAPIKey, Mode: mode, Identity: "apikey:" + fp, TokensFP: fp}
	case store.AuthModePersonalAccessToken:
		// Whose token it is takes a whoami request: the token is the
		// identity (a new token is another login, as with an API key).
		t, _ := rec.PersonalAccessToken()
		fp := classifyFingerprint(t)
		return snapshot{State: snapPersonalAccessToken, Mode: mode, Identity: "pat:" + fp, TokensFP: fp}
	case store.AuthModeOIDC:
		// Whose tokens: the issuer's subject (OpenID Connect Core 1.0
		// section 2: unique within the issuer).
		t, a := rec.Tokens, rec.Account()
		info, _ := rec.OIDC()
		return snapshot{State: snapOIDC, Mode: mode, Identity: "oidc:" + info.Issuer + "|" + info.Subject,
			TokensFP: classifyFingerprint(t.IDToken, t.AccessToken, t.RefreshToken), Email: a.Email}
	case store.AuthModeAgentIdentity:
		jwt, _ := rec.AgentIdentity()
		a := rec.Account()
		s := snapshot{State: snapAgentIdentity, Mode: mode, TokensFP: classifyFingerprint(jwt),
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
	s := snapshot{
		State:       snapChatGPT,
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

// verdict says what to tell the editor about a change.
type verdict struct {
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
// store holds now (next). A snapUnavailable next says nothing and yields
// the zero verdict (keep prev). Rules:
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
func classify(prev, next snapshot) verdict {
	if next.State == snapUnavailable || prev == next {
		return verdict{}
	}
	if !prev.State.LoggedIn() {
		return verdict{Changed: true}
	}
	switch next.State {
	case snapLoggedOut:
		return verdict{Changed: true, Invalidation: ReasonLoggedOut, Message: classifyMsgLoggedOut}
	case snapCorrupt:
		return verdict{Changed: true, Invalidation: ReasonCredentialsCorrupted, Message: next.Problem}
	case snapUnsupported:
		return verdict{Changed: true, Invalidation: ReasonAccountChanged, Message: classifyMsgUnsupported}
	}
	if !classifySameAccount(prev, next) {
		return verdict{Changed: true, Invalidation: ReasonAccountChanged, Message: classifyMsgAccountChanged}
	}
	return verdict{
		Changed:   prev.Mode != next.Mode || prev.Email != next.Email || prev.PlanType != next.PlanType || prev.WorkspaceID != next.WorkspaceID,
		Refreshed: prev.TokensFP != next.TokensFP,
	}
}

// classifySameAccount: both logged in, same state, and the same identity
// (an unknown identity matches any, see Classify).
func classifySameAccount(prev, next snapshot) bool {
	if prev.State != next.State {
		return false
	}
	if prev.Identity == "" || next.Identity == "" {
		return true
	}
	return prev.Identity == next.Identity
}
