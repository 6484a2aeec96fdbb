package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

// AuthAPIPath is where the Codex CLI finds its account API under the
// issuer.
const AuthAPIPath = openai.AuthAPIPath

// AccessTokenInfo is what the whoami endpoint says about a personal
// access token (openai.AccessTokenInfo). No field is a secret.
type AccessTokenInfo = openai.AccessTokenInfo

// ErrAccessTokenRejected: the sign-in server rejected the access token.
var ErrAccessTokenRejected = openai.ErrAccessTokenRejected

// Whoami answers what a personal access token belongs to. Errors: wrapping
// ErrAccessTokenRejected (401, 403), ErrIssuerUnavailable (network, 5xx,
// 429), ErrInvalidResponse (a 2xx body that is not the answer), or an
// *IssuerError (other statuses).
type Whoami interface {
	Whoami(ctx context.Context, token string) (AccessTokenInfo, error)
}

// whoamiRetry is how long a failed whoami answer stands before
// account/read asks again in the background.
const whoamiRetry = 30 * time.Second

// patCache remembers the whoami answer for one token (the stored one),
// keyed by its fingerprint: the token itself is never kept here.
type patCache struct {
	mu   sync.Mutex
	fp   string
	have bool
	info AccessTokenInfo
	err  error
	// at is when the answer arrived: a failed one is asked again only
	// after whoamiRetry, however often account/read is called.
	at time.Time
	// inflight is closed when the fetch for fp ends; nil when none runs.
	inflight chan struct{}
}

// cached is the answer known for token, without waiting; have is false
// when none has arrived yet.
func (c *patCache) cached(fp string) (info AccessTokenInfo, err error, have bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fp != fp || !c.have {
		return AccessTokenInfo{}, nil, false
	}
	return c.info, c.err, true
}

// seed records an answer obtained elsewhere (the login's own whoami).
func (c *patCache) seed(fp string, info AccessTokenInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fp, c.have, c.info, c.err, c.inflight = fp, true, info, nil, nil
}

// accessTokenInfo asks whoami about token in the background (at most one
// request per token in flight) and returns a channel closed when that
// answer is in the cache. fresh forces a new request even when an answer
// is cached. When the answer arrives for the record still in memory,
// account/updated carries its email, plan and workspace.
func (m *Manager) accessTokenInfo(token string, fresh bool) <-chan struct{} {
	fp := classifyFingerprint(token)
	c := &m.pat
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fp == fp && c.inflight != nil {
		return c.inflight
	}
	if c.fp == fp && c.have && !fresh {
		done := make(chan struct{})
		close(done)
		return done
	}
	if c.fp != fp {
		c.fp, c.have, c.info, c.err = fp, false, AccessTokenInfo{}, nil
	}
	done := make(chan struct{})
	c.inflight = done
	if m.opts.Whoami == nil || m.ctx.Err() != nil {
		// No account API, or the Manager is closing (nothing may join
		// its wait group any more).
		c.have, c.err, c.inflight = true, fmt.Errorf("%w: no account API configured, or closing", ErrIssuerUnavailable), nil
		close(done)
		return done
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
		defer cancel()
		info, err := m.opts.Whoami.Whoami(ctx, token)
		if err != nil {
			m.log.Info("whoami for the personal access token failed", "err", err)
		}
		c.mu.Lock()
		changed := false
		if c.fp == fp && c.inflight == done {
			changed = !c.have || c.info != info || (c.err == nil) != (err == nil)
			c.have, c.info, c.err, c.inflight, c.at = true, info, err, nil, m.opts.Now()
		}
		c.mu.Unlock()
		close(done)
		if changed && err == nil && m.ctx.Err() == nil {
			m.notifyAccessTokenInfo(fp)
		}
	}()
	return done
}

// notifyAccessTokenInfo sends account/updated with the whoami answer if
// the record in memory is still the token it is about.
func (m *Manager) notifyAccessTokenInfo(fp string) {
	m.evMu.Lock()
	defer m.evMu.Unlock()
	m.mu.Lock()
	rec := m.rec
	m.mu.Unlock()
	if rec == nil || rec.EffectiveMode() != store.AuthModePersonalAccessToken {
		return
	}
	if t, _ := rec.PersonalAccessToken(); classifyFingerprint(t) != fp {
		return
	}
	if m.accessTokenPolicy(rec) != nil {
		return
	}
	m.editor.AccountUpdated(m.updatedOf(rec))
}

// waitAccessTokenInfo waits (bounded by ctx) for a whoami answer about
// token, asking anew when fresh.
func (m *Manager) waitAccessTokenInfo(ctx context.Context, token string, fresh bool) (AccessTokenInfo, error) {
	done := m.accessTokenInfo(token, fresh)
	select {
	case <-done:
	case <-ctx.Done():
		return AccessTokenInfo{}, ctx.Err()
	}
	info, err, have := m.pat.cached(classifyFingerprint(token))
	if !have {
		// Another token replaced this one meanwhile.
		return AccessTokenInfo{}, fmt.Errorf("%w: whoami answer superseded", ErrIssuerUnavailable)
	}
	return info, err
}

// accessTokenPolicy is the managed policy on an access-token record, as
// Codex 0.171 applies it (measured): forced_login_method "api" hides it
// ("Not logged in"; the record is kept), "chatgpt" allows it; a forced
// workspace must match the workspace whoami reports (an error at status;
// the record is kept). Unknown yet (no answer): allowed for display.
func (m *Manager) accessTokenPolicy(rec *store.Record) error {
	p := m.policy()
	if err := p.CheckLogin(LoginMethodAccessToken); err != nil {
		return err
	}
	if len(p.ForcedWorkspaceIDs) == 0 {
		return nil
	}
	ws, known := m.accessTokenWorkspace(rec)
	if !known {
		return nil
	}
	return p.CheckAccessTokenWorkspace(ws)
}

// accessTokenWorkspace is the workspace of an access-token record: the
// agent identity's account_id claim, or the cached whoami answer.
func (m *Manager) accessTokenWorkspace(rec *store.Record) (string, bool) {
	if _, ok := rec.AgentIdentity(); ok && rec.EffectiveMode() == store.AuthModeAgentIdentity {
		a := rec.Account()
		return a.WorkspaceID, a.ClaimsErr == nil
	}
	t, _ := rec.PersonalAccessToken()
	info, err, have := m.pat.cached(classifyFingerprint(t))
	if !have || err != nil {
		return "", false
	}
	return info.WorkspaceID, true
}

// updatedOf is the account/updated notification for a record, with what
// whoami said about a personal access token when it is known; an
// access-token record the policy hides is logged out, as account/read
// shows it.
func (m *Manager) updatedOf(rec *store.Record) AccountUpdated {
	u := updatedOf(rec)
	if rec == nil || u.AuthMode == "" || !isAccessTokenMode(rec.EffectiveMode()) {
		return u
	}
	if m.accessTokenPolicy(rec) != nil {
		return AccountUpdated{}
	}
	if rec.EffectiveMode() != store.AuthModePersonalAccessToken {
		return u
	}
	t, _ := rec.PersonalAccessToken()
	if info, err, have := m.pat.cached(classifyFingerprint(t)); have && err == nil {
		u.Email, u.PlanType, u.WorkspaceID = info.Email, info.PlanType, info.WorkspaceID
	}
	return u
}

// AccessTokenError: an access-token login failed for a reason safe to
// show (the token was rejected, or is not one codex-auth can sign in with).
type AccessTokenError struct {
	Message string
	Err     error
}

func (e *AccessTokenError) Error() string { return e.Message }

// Unwrap returns ErrLoginFailed and the cause.
func (e *AccessTokenError) Unwrap() []error { return []error{ErrLoginFailed, e.Err} }

// LoginAccessToken saves an access token as `codex login
// --with-access-token` does: a personal access token (at-…) is checked
// with whoami first (as Codex does; its workspace against the policy),
// then stored as {"OPENAI_API_KEY": null, "personal_access_token": …}.
// An agent identity is refused: only Codex can check one (against
// OpenAI's keys) and use it.
func (m *Manager) LoginAccessToken(ctx context.Context, token string) error {
	if m.opts.Provider != nil {
		return ErrProviderLoginType
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return &InputError{Field: "accessToken", Reason: "must not be empty"}
	}
	if !store.IsPersonalAccessToken(token) {
		return &AccessTokenError{Message: "only personal access tokens (at-…) can be saved by codex-auth; sign in with an agent identity using `codex login --with-access-token`, which checks it with OpenAI", Err: ErrLoginTypeUnsupported}
	}
	if err := m.policy().CheckLogin(LoginMethodAccessToken); err != nil {
		return err
	}
	if m.opts.Whoami == nil {
		return fmt.Errorf("%w: no account API configured", ErrIssuerUnavailable)
	}
	info, err := m.opts.Whoami.Whoami(ctx, token)
	if errors.Is(err, ErrAccessTokenRejected) {
		return &AccessTokenError{Message: err.Error(), Err: err}
	}
	if err != nil {
		return err
	}
	if err := m.policy().CheckAccessTokenWorkspace(info.WorkspaceID); err != nil {
		return err
	}
	m.loginMu.Lock()
	defer m.loginMu.Unlock()
	m.stopLogin(nil)
	rec := store.NewPersonalAccessTokenRecord(token)
	m.pat.seed(classifyFingerprint(token), info)
	return m.commit(func() error {
		if err := m.policy().CheckLogin(LoginMethodAccessToken); err != nil {
			return err
		}
		return m.opts.Store.Replace(ctx, rec)
	}, rec, noteUpdated(m.updatedOf(rec)))
}

// UnusableRecordError: the stored credentials are of a kind only the Codex
// CLI can use; Reason says why, safe to show.
type UnusableRecordError struct {
	Mode   store.AuthMode
	Reason string
}

func (e *UnusableRecordError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrUnsupportedRecord) true.
func (e *UnusableRecordError) Unwrap() error { return ErrUnsupportedRecord }

// errAgentIdentityToken is account/token's answer for an agent identity.
var errAgentIdentityToken = &UnusableRecordError{
	Mode:   store.AuthModeAgentIdentity,
	Reason: "the stored credentials are an agent identity, which only the Codex CLI can use: it signs every request with the identity's private key after OpenAI registers the task; there is no bearer token to hand out",
}

func isAccessTokenMode(mode store.AuthMode) bool {
	return mode == store.AuthModePersonalAccessToken || mode == store.AuthModeAgentIdentity
}

// accessTokenStatus fills account/read for an access-token record from
// memory: the whoami answer when cached (else one is asked for in the
// background and account/updated follows), the policy as Codex applies it.
func (m *Manager) accessTokenStatus(rec *store.Record, st *Status) {
	if perr := m.accessTokenPolicy(rec); perr != nil {
		var pe *PolicyError
		if errors.As(perr, &pe) {
			st.Problem = pe.Message
		}
		return
	}
	a := accountOf(rec)
	st.Account = a
	if rec.EffectiveMode() != store.AuthModePersonalAccessToken {
		return
	}
	t, _ := rec.PersonalAccessToken()
	info, err, have := m.pat.cached(classifyFingerprint(t))
	if !have {
		m.accessTokenInfo(t, false)
		return
	}
	switch {
	case errors.Is(err, ErrAccessTokenRejected):
		st.Problem = ErrAccessTokenRejected.Error() + "; sign in again with a new token"
	case err != nil:
		// Shown without them; asked again once whoamiRetry has passed.
		m.pat.mu.Lock()
		stale := m.opts.Now().Sub(m.pat.at) >= whoamiRetry
		m.pat.mu.Unlock()
		if stale {
			m.accessTokenInfo(t, true)
		}
	default:
		a.Email, a.PlanType, a.WorkspaceID = info.Email, info.PlanType, info.WorkspaceID
	}
}

// accessTokenToken is account/token for a personal access token: the
// token itself, once the policy allows it (a forced workspace is checked
// against whoami, waited for within ctx).
func (m *Manager) accessTokenToken(ctx context.Context, rec *store.Record) (Token, error) {
	t, _ := rec.PersonalAccessToken()
	p := m.policy()
	if err := p.CheckLogin(LoginMethodAccessToken); err != nil {
		return Token{}, err
	}
	info, err, have := m.pat.cached(classifyFingerprint(t))
	if len(p.ForcedWorkspaceIDs) > 0 && (!have || err != nil) {
		info, err = m.waitAccessTokenInfo(ctx, t, have)
		if err != nil {
			return Token{}, err
		}
	}
	if len(p.ForcedWorkspaceIDs) > 0 {
		if err := p.CheckAccessTokenWorkspace(info.WorkspaceID); err != nil {
			return Token{}, err
		}
	}
	if !have {
		m.accessTokenInfo(t, false)
	}
	return Token{Type: AccountPersonalAccessToken, AccessToken: t, AccountID: info.WorkspaceID}, nil
}
