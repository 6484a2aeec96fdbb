package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// The Codex CLI 0.171 sends its refresh before it takes auth.lock (it
// locks only around the final re-read and write), so our auth.lock keeps
// our processes apart but not Codex and us. What keeps us from ever being
// one side of two redemptions of one refresh token:
//   - we refresh ahead of Codex's window (refresh_ahead.go), so a Codex process
//     finds a fresh token and has nothing to refresh;
//   - a refresh is satisfied, without redeeming, by a token someone else
//     stored since we last served one, or stored in the last few seconds,
//     and a process redeems one credential at most once in that time;
//   - a token already inside Codex's window is re-read after a short
//     random delay before it is redeemed, so that a Codex refresh in
//     flight lands first and is adopted;
//   - a rotated token set the issuer gave us is never lost: if its save
//     fails it is kept in memory, served, and saved again until it is.
const (
	// refreshBackoffMin and refreshBackoffMax: after a transient refresh
	// failure the first retry is allowed after the minimum, doubling up
	// to the maximum.
	refreshBackoffMin = time.Second
	refreshBackoffMax = 5 * time.Minute
	// staleAfter: without an exp claim, Codex refreshes tokens whose
	// last_refresh is older than this.
	staleAfter = 8 * 24 * time.Hour
	// CodexRefreshWindow is the Codex CLI's own refresh window: it
	// refreshes an access token that expires within it.
	CodexRefreshWindow = 5 * time.Minute
	// coalesceWindow: a token stored this recently (by any process)
	// satisfies a refresh without redeeming, and one process redeems one
	// credential at most once in this time. Capped at a quarter of the
	// token's lifetime.
	coalesceWindow = 5 * time.Second
	// DefaultLateDelay is the longest random wait before redeeming a
	// token already inside Codex's window (at least half of it; capped at
	// an eighth of the token's lifetime).
	DefaultLateDelay = 2 * time.Second
	// saveRetryMin and saveRetryMax pace saving a refreshed token set
	// again after its save failed.
	saveRetryMin = 250 * time.Millisecond
	saveRetryMax = 30 * time.Second
)

// refreshKind says why a refresh is asked for, which decides when a
// token re-read under auth.lock satisfies it without redeeming.
type refreshKind int

const (
	// refreshDue: a caller needs a token and the one held expires within
	// the refresh window.
	refreshDue refreshKind = iota
	// refreshForced: the editor asked for a new token (a 401).
	refreshForced
	// refreshAhead: the background refresh before Codex's window opens.
	refreshAhead
)

func (k refreshKind) reason() RefreshReason {
	if k == refreshForced {
		return RefreshForced
	}
	return RefreshProactive
}

// refreshState is the Manager's refresh bookkeeping, guarded by Manager.mu.
type refreshState struct {
	// flights: one refresh in flight per refresh token.
	flights map[string]*refreshFlight
	// dead is the refresh token the issuer rejected for good ("" none):
	// no retry until a new login, and SessionInvalidated sent once;
	// deadWhy says why.
	dead    string
	deadWhy *ExpiredError
	// failures and next: backoff after transient failures.
	failures int
	next     time.Time
	// served is the access token account/token last answered with;
	// lastRedeem when this process last redeemed a refresh token.
	served     string
	lastRedeem time.Time
	// pending is a token set the issuer gave whose save failed (nil
	// none): it stands in for the stored record that still holds the
	// refresh token it replaced, until a save succeeds.
	pending *pendingSave
}

// pendingSave is a refreshed record not yet saved.
type pendingSave struct {
	rec   *store.Record
	oldRT string // the refresh token it replaced (spent at the issuer)
}

// cancelFlights stops every refresh in flight (the caller holds mu).
func (s *refreshState) cancelFlights() {
	for _, f := range s.flights {
		f.cancel()
	}
}

// reset forgets what belongs to the previous credentials (a login, a
// logout, another account): the caller holds mu.
func (s *refreshState) reset() {
	s.dead, s.deadWhy, s.failures, s.next = "", nil, 0, time.Time{}
	s.served, s.lastRedeem, s.pending = "", time.Time{}, nil
}

// refreshFlight is one refresh in flight; waiters read rec and err after
// done is closed.
type refreshFlight struct {
	done chan struct{}
	rec  *store.Record
	err  error
	// ctx and cancel bound the refresh; a logout cancels it, so that it
	// does not wait for a refresh to a hung issuer.
	ctx    context.Context
	cancel context.CancelFunc
}

// accessExpiry is when rec's access token expires: the exp claim of
// Codex's JWT, or what a provider's token answer said (its access tokens
// may be opaque).
func accessExpiry(rec *store.Record) (time.Time, bool) {
	if rec.EffectiveMode() == store.AuthModeOIDC {
		info, _ := rec.OIDC()
		return info.ExpiresAt, !info.ExpiresAt.IsZero()
	}
	return store.TokenExpiry(rec.Tokens.AccessToken)
}

// fresh reports whether rec needs no refresh now: its exp is more than
// window away, or, without exp, last_refresh is recent.
func fresh(rec *store.Record, now time.Time, window time.Duration) bool {
	if exp, ok := accessExpiry(rec); ok {
		return exp.Sub(now) > window
	}
	if rec.LastRefresh != nil {
		return now.Sub(*rec.LastRefresh) < staleAfter
	}
	return false
}

// unexpired reports whether the access token can still be used at all.
func unexpired(rec *store.Record, now time.Time) bool {
	exp, ok := accessExpiry(rec)
	return ok && now.Before(exp)
}

// lifetime is the access token's lifetime: exp - iat, else exp -
// last_refresh; 0 when unknown.
func lifetime(rec *store.Record) time.Duration {
	exp, ok := accessExpiry(rec)
	if !ok {
		return 0
	}
	if iat, ok := store.TokenIssuedAt(rec.Tokens.AccessToken); ok && exp.After(iat) {
		return exp.Sub(iat)
	}
	if rec.LastRefresh != nil && exp.After(*rec.LastRefresh) {
		return exp.Sub(*rec.LastRefresh)
	}
	return 0
}

// capped is d, at most frac of rec's lifetime when that is known.
func capped(d time.Duration, rec *store.Record, frac float64) time.Duration {
	if l := lifetime(rec); l > 0 {
		return min(d, time.Duration(float64(l)*frac))
	}
	return d
}

// dueWindow is the refresh window for rec: RefreshWindow, at most half
// the token's lifetime, so that a token just refreshed is never due at
// once (no refresh loop with tokens shorter than the window).
func (m *Manager) dueWindow(rec *store.Record) time.Duration {
	return capped(m.opts.RefreshWindow, rec, 0.5)
}

// insideCodexWindow reports whether a Codex process would refresh rec on
// its own now, so that one may be redeeming its refresh token already.
func insideCodexWindow(rec *store.Record, now time.Time) bool {
	return !fresh(rec, now, CodexRefreshWindow)
}

// storedWithin reports whether rec was stored (last_refresh) within d.
func storedWithin(rec *store.Record, now time.Time, d time.Duration) bool {
	return rec.LastRefresh != nil && now.Sub(*rec.LastRefresh) < d && !rec.LastRefresh.After(now.Add(time.Minute))
}

// satisfied reports whether the record just read satisfies a refresh of
// the given kind without redeeming. seen is the access token the refresh
// was asked against. The caller holds mu.
func (m *Manager) satisfied(cur *store.Record, kind refreshKind, seen string, now time.Time) bool {
	if _, ok := accessExpiry(cur); ok && !unexpired(cur, now) {
		return false // an expired token satisfies nobody
	}
	if cur.Tokens.AccessToken != seen {
		return true // another process (or a login) stored a newer token
	}
	// Coalescing is Codex's (it redeems beside us); a provider's tokens
	// are refreshed by our processes alone, under auth.lock.
	co := capped(coalesceWindow, cur, 0.25)
	if m.opts.Provider == nil && (storedWithin(cur, now, co) || now.Sub(m.refresh.lastRedeem) < co) {
		return true // just refreshed: at most one redemption in that time
	}
	if kind == refreshDue {
		return fresh(cur, now, m.dueWindow(cur))
	}
	return false
}

// ensureFresh returns the in-memory ChatGPT record with an access token
// that is fresh (or forcibly refreshed). The refresh itself runs on the
// Manager's context, never on ctx: ctx only bounds how long this caller
// waits.
func (m *Manager) ensureFresh(ctx context.Context, force bool) (*store.Record, error) {
	kind := refreshDue
	if force {
		kind = refreshForced
	}
	now := m.opts.Now()
	m.mu.Lock()
	rec, loadErr := m.rec, m.loadErr
	switch {
	case loadErr != nil:
		m.mu.Unlock()
		return nil, loadErr
	case rec == nil:
		m.mu.Unlock()
		return nil, ErrNotLoggedIn
	case !m.usable(rec) || rec.Tokens == nil:
		m.mu.Unlock()
		return nil, ErrUnsupportedRecord
	}
	if m.refresh.dead != "" && m.refresh.dead == rec.Tokens.RefreshToken {
		why := m.refresh.deadWhy
		m.mu.Unlock()
		return nil, why
	}
	// A forced refresh is asked against the token last served: one
	// stored since (the watcher adopted it) already satisfies it.
	seen := rec.Tokens.AccessToken
	if kind == refreshForced && m.refresh.served != "" {
		seen = m.refresh.served
	}
	if m.satisfied(rec, kind, seen, now) {
		m.mu.Unlock()
		return rec, nil
	}
	f, err := m.startFlight(rec, kind, seen, now)
	m.mu.Unlock()
	if err != nil {
		if !force && unexpired(rec, now) {
			return rec, nil
		}
		return nil, err
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		transient := errors.Is(f.err, ErrIssuerUnavailable) || errors.Is(f.err, store.ErrUnavailable)
		if !force && transient && unexpired(rec, m.opts.Now()) {
			return rec, nil
		}
		return nil, f.err
	}
	return f.rec, nil
}

// errBackingOff: a refresh was asked for while backing off after a
// transient failure.
var errBackingOff = fmt.Errorf("refresh backing off after a failure: %w", ErrIssuerUnavailable)

// startFlight returns the refresh in flight for rec's refresh token,
// starting one if none is. The caller holds mu.
func (m *Manager) startFlight(rec *store.Record, kind refreshKind, seen string, now time.Time) (*refreshFlight, error) {
	rt := rec.Tokens.RefreshToken
	if f := m.refresh.flights[rt]; f != nil {
		return f, nil
	}
	if now.Before(m.refresh.next) {
		return nil, errBackingOff
	}
	f := &refreshFlight{done: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(m.ctx)
	if m.refresh.flights == nil {
		m.refresh.flights = map[string]*refreshFlight{}
	}
	m.refresh.flights[rt] = f
	m.wg.Add(1)
	go m.runRefresh(f, rec.Clone(), kind, seen, m.gen)
	return f, nil
}

// runRefresh does one refresh under auth.lock (store.Update): re-read,
// adopt a token another process stored, else redeem the refresh token
// (RFC 6749 section 6) and save the result before unlocking. Waiting for
// auth.lock and the call to the issuer have budgets of their own
// (RefreshTimeout each), so giving up on the lock never abandons a call
// the issuer has answered.
func (m *Manager) runRefresh(f *refreshFlight, held *store.Record, kind refreshKind, seen string, gen uint64) {
	defer m.wg.Done()
	defer f.cancel()
	rt := held.Tokens.RefreshToken

	// Waking up late: Codex may be refreshing this token right now.
	if m.opts.Provider == nil && insideCodexWindow(held, m.opts.Now()) {
		if d := capped(m.opts.LateDelay, held, 0.125); d > 0 {
			wait := d/2 + rand.N(d/2+1)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-f.ctx.Done():
			}
			t.Stop()
		}
	}

	var (
		stored   *store.Record // what was read under the lock
		redeemed *store.Record // what the issuer gave, once it answered
		stale    bool          // stored still held the spent token of a pending save
	)
	lockCtx, cancelLock := context.WithTimeout(f.ctx, m.opts.RefreshTimeout)
	defer cancelLock()
	rec, err := m.opts.Store.Update(lockCtx, func(cur *store.Record) (*store.Record, error) {
		if cur == nil {
			return nil, ErrNotLoggedIn
		}
		if !m.usable(cur) || cur.EffectiveMode() != m.tokenMode() {
			return nil, ErrUnsupportedRecord
		}
		cur, stale = m.withPending(cur)
		stored = cur
		now := m.opts.Now()
		m.mu.Lock()
		ok := cur.Tokens.RefreshToken != rt || m.satisfied(cur, kind, seen, now)
		policy := m.policyOf(m.cfg)
		m.mu.Unlock()
		if ok && cur.Tokens.AccessToken != held.Tokens.AccessToken {
			// Another process's record: checked like every record adopted.
			if err := policy.CheckRecord(cur); err != nil {
				return nil, err
			}
		}
		if ok {
			if stale {
				return cur, nil // save the pending token set now
			}
			return nil, nil // adopt
		}
		callCtx, cancelCall := context.WithTimeout(f.ctx, m.opts.RefreshTimeout)
		defer cancelCall()
		next := cur.Clone()
		var ts TokenSet
		var err error
		if p := m.opts.Provider; p != nil {
			info, _ := cur.OIDC()
			if ts, err = p.Refresh(callCtx, rt, info.Subject); err == nil {
				next.SetOIDC(providerAccount(info, ts))
			}
		} else {
			ts, err = m.opts.Issuer.Refresh(callCtx, rt, kind.reason())
		}
		if err != nil {
			return nil, err
		}
		next = withTokens(next, ts, m.opts.Now())
		redeemed = next.Clone()
		return next, nil
	})
	if errors.Is(err, store.ErrActiveChanged) && rec != nil {
		// Another account was stored during the refresh by a program that
		// ignores auth.lock: the new tokens went to their own account's
		// saved copy. They are served; the watcher adopts the other
		// account (re-read here when nothing watches).
		m.log.Info("another account was stored during the refresh; the refreshed tokens were saved to their account's copy")
		err = nil
		if m.watcher.Load() == nil {
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				<-f.done
				if err := m.Reload(m.ctx); err != nil {
					m.log.Warn("re-reading the credentials after another account was stored failed", "err", err)
				}
			}()
		}
	}
	// The issuer answered (or a pending set was being saved) but the save
	// failed: the new tokens exist only here, so keep them and save later.
	var unsaved *store.Record
	if err != nil {
		switch {
		case redeemed != nil:
			unsaved = redeemed
		case stale && stored != nil:
			unsaved = stored
		}
		if unsaved != nil {
			m.log.Warn("saving the refreshed tokens failed; serving them from memory and saving again", "err", err)
			rec, err = unsaved, nil
		}
	}
	if err == nil && rec == nil {
		rec = stored
	}
	if err == nil && rec == nil {
		err = ErrNotLoggedIn
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("refresh timed out: %w", ErrIssuerUnavailable)
	}

	var ie *IssuerError
	permanent := errors.As(err, &ie) && ie.Permanent()
	var pe *PolicyError
	if errors.As(err, &pe) {
		// Never served; the violation is enforced (logged out, notified)
		// as for any record adopted, once this flight has ended.
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			<-f.done
			if err := m.Reload(m.ctx); err != nil {
				m.log.Warn("re-reading the credentials after a policy violation failed", "err", err)
			}
		}()
	}
	var notes []note

	// evMu: the watcher must not classify against a stale last while
	// this refresh's own write is being adopted.
	m.evMu.Lock()
	defer m.evMu.Unlock()
	m.mu.Lock()
	delete(m.refresh.flights, rt)
	switch {
	case err == nil:
		m.refresh.failures, m.refresh.next = 0, time.Time{}
		if redeemed != nil {
			m.refresh.lastRedeem = m.opts.Now()
		}
		if m.gen == gen {
			before := updatedOf(m.rec)
			m.rec = rec.Clone()
			if redeemed != nil || stale {
				// Our own write; a record adopted from another process
				// is left for the watcher to classify.
				m.last = snapshotOf(rec, nil)
			}
			switch {
			case unsaved != nil:
				m.keepPending(unsaved, rt)
			case stale:
				m.refresh.pending = nil
			}
			if after := updatedOf(m.rec); after != before {
				notes = append(notes, noteUpdated(after))
			}
			f.rec = rec
			m.kickAhead()
		} else if m.rec != nil {
			// A login or logout came in between: serve what is current.
			f.rec = m.rec.Clone()
		} else {
			err = fmt.Errorf("signed out during the refresh: %w", ErrNotLoggedIn)
		}
	case permanent:
		why := &ExpiredError{Code: ie.Code}
		err = fmt.Errorf("%w (%w)", why, err)
		if m.gen == gen && m.refresh.dead != rt {
			m.refresh.dead, m.refresh.deadWhy = rt, why
			m.markNeedsLogin(held)
			// The invalidation first, as for every other reason.
			notes = append(notes, noteInvalidated(Invalidation{
				Reason:  ReasonRefreshFailed,
				Message: why.Error(),
			}), noteUpdated(updatedOf(m.rec)))
		}
	case pe != nil:
	case m.gen != gen:
		// A logout or login came in (and may have canceled this one):
		// no backoff against the new state.
		if m.rec == nil {
			err = fmt.Errorf("signed out during the refresh: %w", ErrNotLoggedIn)
		}
	default:
		m.refresh.failures++
		backoff := refreshBackoffMin << min(m.refresh.failures-1, 20)
		m.refresh.next = m.opts.Now().Add(min(backoff, refreshBackoffMax))
		m.kickAhead()
	}
	f.err = err
	m.mu.Unlock()

	if err != nil {
		m.log.Warn("token refresh failed", "err", err, "permanent", permanent)
	} else {
		m.log.Debug("token refresh done", "calledIssuer", redeemed != nil, "kind", int(kind))
	}
	// Notify before waking the waiters: an editor hears that the session
	// ended no later than the reply to the call that found it out.
	m.tell(notes)
	close(f.done)
}

// withPending returns the pending token set in place of cur when cur
// still holds the refresh token that set replaced (its save failed), and
// reports whether it did.
func (m *Manager) withPending(cur *store.Record) (*store.Record, bool) {
	m.mu.Lock()
	p := m.refresh.pending
	m.mu.Unlock()
	if p == nil || cur == nil || cur.Tokens == nil || cur.Tokens.RefreshToken != p.oldRT {
		return cur, false
	}
	return p.rec.Clone(), true
}

// keepPending records rec, whose save failed, as the token set to save,
// and starts saving it again in the background. The caller holds mu.
func (m *Manager) keepPending(rec *store.Record, oldRT string) {
	if p := m.refresh.pending; p != nil {
		// A newer set replaces an older unsaved one; the stored record
		// still holds the oldest spent token.
		oldRT = p.oldRT
	}
	start := m.refresh.pending == nil
	m.refresh.pending = &pendingSave{rec: rec.Clone(), oldRT: oldRT}
	if start && m.ctx.Err() == nil {
		m.wg.Add(1)
		go m.savePending()
	}
}

// savePending saves the pending token set until a save succeeds, the
// stored record moves on (a login, a logout: the pending set is then
// dropped), or the Manager closes. Each try re-reads under auth.lock.
func (m *Manager) savePending() {
	defer m.wg.Done()
	delay := saveRetryMin
	for {
		t := time.NewTimer(delay)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		m.mu.Lock()
		p := m.refresh.pending
		m.mu.Unlock()
		if p == nil {
			return
		}
		ctx, cancel := context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
		err := m.savePendingOnce(ctx, p)
		cancel()
		if err == nil {
			m.mu.Lock()
			done := m.refresh.pending == p
			if done {
				m.refresh.pending = nil
			}
			m.mu.Unlock()
			if done {
				m.log.Info("saved the refreshed tokens after an earlier failure")
				return
			}
			delay = saveRetryMin // a newer set came in meanwhile: save it too
			continue
		}
		m.log.Warn("saving the refreshed tokens failed again; retrying", "err", err, "in", delay)
		delay = min(2*delay, saveRetryMax)
	}
}

// savePendingOnce tries once to save the pending token set, re-reading
// under auth.lock. When another account has been stored meanwhile, the
// set is its own account's newest: with saved accounts it goes to that
// account's copy, if the copy still holds the token the set replaced.
func (m *Manager) savePendingOnce(ctx context.Context, p *pendingSave) error {
	if m.opts.Saved == nil {
		_, err := m.opts.Store.Update(ctx, func(cur *store.Record) (*store.Record, error) {
			if next, stale := m.withPending(cur); stale {
				return next, nil
			}
			return nil, nil // saved by a refresh meanwhile, or superseded
		})
		return err
	}
	return m.opts.Saved.Accounts(ctx, func(tx *store.SavedTx) error {
		cur, err := tx.Active()
		if err != nil {
			return err
		}
		if next, stale := m.withPending(cur); stale {
			return tx.Activate(next)
		}
		if cur.Identity() == p.rec.Identity() {
			return nil // saved by a refresh meanwhile
		}
		id := tx.IDOf(p.rec)
		saved, err := tx.Load(id)
		if err == nil && saved != nil && saved.Tokens != nil && saved.Tokens.RefreshToken == p.oldRT {
			_, err = tx.Put(p.rec)
			return err
		}
		return nil
	})
}
