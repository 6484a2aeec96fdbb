package session

import (
	"math/rand/v2"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// Refreshing ahead of Codex: while a sidecar runs with a ChatGPT record
// it refreshes in the background before Codex's window opens, so that a
// Codex process starting or calling the API finds a fresh token and has
// nothing to refresh (Codex redeems without holding auth.lock; this is
// the one lever we have over it). Each wake is jittered so that several
// sidecars do not wake at once: the first to take auth.lock refreshes,
// the others re-read and adopt.
const (
	// aheadMarginMin and aheadMarginMax: a long-lived token is refreshed
	// this long before Codex's window opens (random in between at each
	// scheduling), 6 to 9 minutes before it expires.
	aheadMarginMin = time.Minute
	aheadMarginMax = 4 * time.Minute
	// aheadMinGap keeps wakes at least this far apart, whatever the
	// token says (never a refresh loop).
	aheadMinGap = time.Second
)

// aheadAt is when the background refresh of rec should run, and false
// when rec needs none (not ChatGPT, no expiry). The caller holds mu.
func (m *Manager) aheadAt(rec *store.Record) (time.Time, bool) {
	if rec == nil || !rec.Supported() || rec.Tokens == nil || rec.EffectiveMode() != store.AuthModeChatGPT {
		return time.Time{}, false
	}
	if m.refresh.dead != "" && m.refresh.dead == rec.Tokens.RefreshToken {
		return time.Time{}, false
	}
	exp, ok := store.TokenExpiry(rec.Tokens.AccessToken)
	if !ok {
		return time.Time{}, false
	}
	var lead time.Duration
	if l := lifetime(rec); l == 0 || l > CodexRefreshWindow+2*aheadMarginMax {
		lead = CodexRefreshWindow + aheadMarginMin + rand.N(aheadMarginMax-aheadMarginMin)
	} else {
		// Too short to get ahead of Codex (it refreshes such a token on
		// every start): refresh when it is due; the late delay before
		// redeeming spreads the sidecars out.
		lead = m.dueWindow(rec)
	}
	at := exp.Add(-lead)
	if at.Before(m.refresh.next) {
		at = m.refresh.next // backing off after a transient failure
	}
	return at, true
}

// kickAhead tells the background refresh that the record changed, so
// that it schedules again. The caller may hold mu.
func (m *Manager) kickAhead() {
	if m.aheadKick == nil {
		return
	}
	select {
	case m.aheadKick <- struct{}{}:
	default:
	}
}

// runAhead is the background refresh (Options.BackgroundRefresh): it
// sleeps until the record's aheadAt, refreshes (or adopts what another
// process stored) and schedules again, until the Manager closes.
func (m *Manager) runAhead() {
	defer m.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var last time.Time // the last wake: wakes are at least aheadMinGap apart
	for {
		m.mu.Lock()
		at, ok := m.aheadAt(m.rec)
		m.mu.Unlock()
		if ok {
			at = maxTime(at, last.Add(aheadMinGap))
			timer.Reset(max(at.Sub(m.opts.Now()), 0))
		}
		select {
		case <-m.ctx.Done():
			return
		case <-m.aheadKick:
			timer.Stop()
			continue
		case <-timer.C:
		}
		last = m.opts.Now()
		m.refreshAhead()
	}
}

// refreshAhead runs one background refresh of the in-memory record and
// waits for it.
func (m *Manager) refreshAhead() {
	now := m.opts.Now()
	m.mu.Lock()
	rec := m.rec
	if _, ok := m.aheadAt(rec); !ok || m.loadErr != nil {
		m.mu.Unlock()
		return
	}
	f, err := m.startFlight(rec, refreshAhead, rec.Tokens.AccessToken, now)
	m.mu.Unlock()
	if err != nil {
		return // backing off: aheadAt waits for it
	}
	select {
	case <-f.done:
	case <-m.ctx.Done():
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
