// refresh.go: keeping the ChatGPT access token fresh, once per credential, safely across processes.

package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// Backoff after a transient refresh failure: the first retry is allowed
// after refreshBackoffMin, doubling up to refreshBackoffMax.
const (
	refreshBackoffMin = time.Second
	refreshBackoffMax = 5 * time.Minute
	// staleAfter: without an exp claim, Codex refreshes tokens whose
	// last_refresh is older than this.
	staleAfter = 8 * 24 * time.Hour
)

// refreshState is the Manager's refresh bookkeeping, guarded by Manager.mu.
type refreshState struct {
	// flights: one refresh in flight per refresh token.
	flights map[string]*refreshFlight
	// dead is the refresh token the issuer rejected for good ("" none):
	// no retry until a new login, and SessionInvalidated sent once.
	dead string
	// failures and next: backoff after transient failures.
	failures int
	next     time.Time
}

// cancelFlights stops every refresh in flight (the caller holds mu).
func (s *refreshState) cancelFlights() {
	for _, f := range s.flights {
		f.cancel()
	}
}

func (s *refreshState) reset() {
	s.dead, s.failures, s.next = "", 0, time.Time{}
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

// fresh reports whether tok needs no refresh now: its exp is more than
// window away, or, without exp, last_refresh is recent.
func fresh(rec *store.Record, now time.Time, window time.Duration) bool {
	if exp, ok := store.TokenExpiry(rec.Tokens.AccessToken); ok {
		return exp.Sub(now) > window
	}
	if rec.LastRefresh != nil {
		return now.Sub(*rec.LastRefresh) < staleAfter
	}
	return false
}

// unexpired reports whether the access token can still be used at all.
func unexpired(rec *store.Record, now time.Time) bool {
	exp, ok := store.TokenExpiry(rec.Tokens.AccessToken)
	return ok && now.Before(exp)
}

// ensureFresh returns the in-memory ChatGPT record with an access token
// that is fresh (or forcibly refreshed). The refresh itself runs on the
// Manager's context bounded by RefreshTimeout, never on ctx: ctx only
// bounds how long this caller waits.
func (m *Manager) ensureFresh(ctx context.Context, force bool) (*store.Record, error) {
	now := m.opts.Now()
	m.mu.Lock()
	rec := m.rec
	switch {
	case m.loadErr != nil:
		m.mu.Unlock()
		return nil, m.loadErr
	case rec == nil:
		m.mu.Unlock()
		return nil, ErrNotLoggedIn
	case !rec.Supported() || rec.Tokens == nil:
		m.mu.Unlock()
		return nil, ErrUnsupportedRecord
	}
	rt := rec.Tokens.RefreshToken
	if m.refresh.dead != "" && m.refresh.dead == rt {
		m.mu.Unlock()
		return nil, ErrSessionExpired
	}
	if !force && fresh(rec, now, m.opts.RefreshWindow) {
		m.mu.Unlock()
		return rec, nil
	}
	f := m.refresh.flights[rt]
	if f == nil {
		if now.Before(m.refresh.next) {
			m.mu.Unlock()
			if !force && unexpired(rec, now) {
				return rec, nil
			}
			return nil, fmt.Errorf("refresh backing off after a failure: %w", ErrIssuerUnavailable)
		}
		f = &refreshFlight{done: make(chan struct{})}
		f.ctx, f.cancel = context.WithTimeout(m.ctx, m.opts.RefreshTimeout)
		if m.refresh.flights == nil {
			m.refresh.flights = map[string]*refreshFlight{}
		}
		m.refresh.flights[rt] = f
		m.wg.Add(1)
		go m.runRefresh(f, rt, force, m.gen)
	}
	m.mu.Unlock()
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

// runRefresh does one refresh under auth.lock (store.Update), as the
// Codex CLI does: re-read, adopt tokens another process already rotated,
// else redeem the refresh token (RFC 6749 section 6) and save the result
// before unlocking.
func (m *Manager) runRefresh(f *refreshFlight, rt string, force bool, gen uint64) {
	defer m.wg.Done()
	ctx := f.ctx
	defer f.cancel()

	var stored *store.Record
	refreshed := false
	rec, err := m.opts.Store.Update(ctx, func(cur *store.Record) (*store.Record, error) {
		if cur == nil {
			return nil, ErrNotLoggedIn
		}
		if !cur.Supported() || cur.EffectiveMode() != store.AuthModeChatGPT {
			return nil, ErrUnsupportedRecord
		}
		stored = cur
		if cur.Tokens.RefreshToken != rt {
			return nil, nil // rotated by another process: adopt
		}
		if !force && fresh(cur, m.opts.Now(), m.opts.RefreshWindow) {
			return nil, nil // refreshed by another process: adopt
		}
		ts, err := m.opts.Issuer.Refresh(ctx, rt)
		if err != nil {
			return nil, err
		}
		next := cur.Clone()
		if ts.IDToken != "" {
			next.Tokens.IDToken = ts.IDToken
		}
		if ts.AccessToken != "" {
			next.Tokens.AccessToken = ts.AccessToken
		}
		if ts.RefreshToken != "" {
			next.Tokens.RefreshToken = ts.RefreshToken
		}
		now := m.opts.Now().UTC()
		next.LastRefresh = &now
		refreshed = true
		return next, nil
	})
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
	var notes []any

	// evMu: the watcher must not classify against a stale last while
	// this refresh's own write is being adopted.
	m.evMu.Lock()
	defer m.evMu.Unlock()
	m.mu.Lock()
	delete(m.refresh.flights, rt)
	switch {
	case err == nil:
		m.refresh.failures, m.refresh.next = 0, time.Time{}
		if m.gen == gen {
			before := updatedOf(m.rec)
			m.rec = rec.Clone()
			if refreshed {
				// Our own write; a record adopted from another process
				// is left for the watcher to classify.
				m.last = SnapshotOf(rec, nil)
			}
			if after := updatedOf(m.rec); after != before {
				notes = append(notes, after)
			}
			f.rec = rec
		} else if m.rec != nil {
			// A login or logout came in between: serve what is current.
			f.rec = m.rec.Clone()
		} else {
			err = fmt.Errorf("signed out during the refresh: %w", ErrNotLoggedIn)
		}
	case permanent:
		err = fmt.Errorf("%w (%w)", ErrSessionExpired, err)
		if m.gen == gen && m.refresh.dead != rt {
			m.refresh.dead = rt
			// The invalidation first, as for every other reason.
			notes = append(notes, SessionInvalidated{
				Reason:  ReasonRefreshFailed,
				Message: ErrSessionExpired.Error(),
			}, updatedOf(m.rec))
		}
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
	}
	f.err = err
	m.mu.Unlock()

	if err != nil {
		m.log.Warn("token refresh failed", "err", err, "permanent", permanent)
	} else {
		m.log.Debug("token refresh done", "calledIssuer", refreshed)
	}
	// Notify before waking the waiters: an editor hears that the session
	// ended no later than the reply to the call that found it out.
	for _, n := range notes {
		m.opts.Notify(n)
	}
	close(f.done)
}
