package session

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/store"
)

// testJWT makes an unsigned JWT with the given claims (session never
// checks signatures, as Codex).
func testJWT(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

type testUser struct {
	Email, Plan, Workspace string
}

func testIDToken(u testUser) string {
	return testJWT(map[string]any{
		"email": u.Email,
		"https://api.openai.com/auth": map[string]any{
			"chatgpt_plan_type":  u.Plan,
			"chatgpt_account_id": u.Workspace,
		},
	})
}

func testAccessToken(n int, exp time.Time) string {
	return testJWT(map[string]any{"exp": exp.Unix(), "n": n})
}

// recorder collects notifications and lets tests wait for them.
type recorder struct {
	mu     sync.Mutex
	events []any
	ch     chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) notify(ev any) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// The recorder is the editor of the tests: every notification is kept.

func (r *recorder) AccountUpdated(u AccountUpdated)                    { r.notify(u) }
func (r *recorder) LoginCompleted(c LoginCompleted)                    { r.notify(c) }
func (r *recorder) SessionInvalidated(i Invalidation)                  { r.notify(i) }
func (r *recorder) AccountsUpdated(l AccountList)                      { r.notify(l) }
func (r *recorder) CanShowDocuments() bool                             { return false }
func (r *recorder) ShowDocument(context.Context, string) (bool, error) { return false, nil }

func (r *recorder) all() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.events...)
}

// waitFor waits until cond holds over the recorded events. The deadline
// only guards against a hang; tests never pass by waiting.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]any) bool) []any {
	t.Helper()
	guard := time.NewTimer(20 * time.Second)
	defer guard.Stop()
	for {
		if evs := r.all(); cond(evs) {
			return evs
		}
		select {
		case <-r.ch:
		case <-guard.C:
			t.Fatalf("timed out waiting for %s; events: %#v", what, r.all())
		}
	}
}

// completed returns the LoginCompleted events.
func completed(evs []any) []LoginCompleted {
	var out []LoginCompleted
	for _, e := range evs {
		if lc, ok := e.(LoginCompleted); ok {
			out = append(out, lc)
		}
	}
	return out
}

func ofType[T any](evs []any) []T {
	var out []T
	for _, e := range evs {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// browser is a fake browser: it GETs a URL and follows redirects, as a
// user's browser would after approving the sign-in.
func browser(t *testing.T, rawURL string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

// memStore stands in for *store.Store in the tests that do not need
// files: one record behind a mutex, with Update's contract.
type memStore struct {
	mu  sync.Mutex
	rec *store.Record
	err error // Load's error (a corrupt record)
}

func (s *memStore) Load(ctx context.Context) (*store.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Clone(), s.err
}

func (s *memStore) Update(ctx context.Context, fn func(*store.Record) (*store.Record, error)) (*store.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	next, err := fn(s.rec.Clone())
	if err != nil {
		return nil, err
	}
	if next != nil {
		s.rec = next.Clone()
	}
	return s.rec.Clone(), nil
}

func (s *memStore) Replace(ctx context.Context, r *store.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec, s.err = r.Clone(), nil
	return nil
}

func (s *memStore) Delete(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	existed := s.rec != nil || s.err != nil
	s.rec, s.err = nil, nil
	return existed, nil
}

func (s *memStore) DeleteIf(ctx context.Context, match func(*store.Record) bool) (bool, *store.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, nil, s.err
	}
	if s.rec == nil || !match(s.rec.Clone()) {
		return false, s.rec.Clone(), nil
	}
	s.rec = nil
	return true, nil, nil
}

func (s *memStore) Take(ctx context.Context) (*store.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, existed := s.rec, s.rec != nil || s.err != nil
	s.rec, s.err = nil, nil
	return prev, existed, nil
}

func (s *memStore) Location() store.Location {
	return store.Location{Mode: store.ModeEphemeral, Where: "memory"}
}
func (s *memStore) AuthFile() string { return "" }

func (s *memStore) get() *store.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Clone()
}

// fakeIssuer is a small stand-in for the local issuer: an httptest
// authorize endpoint that approves at once, and in-memory token
// endpoints with rotation and reuse detection.
type fakeIssuer struct {
	srv *httptest.Server
	now func() time.Time
	ttl time.Duration

	mu        sync.Mutex
	user      testUser
	n         int
	codes     map[string]string // code -> redirect_uri
	refresh   map[string]bool   // refresh token -> still valid
	refreshes int
	reuse     int
	revoked   []string
	fault     error // returned by Refresh when set
	block     chan struct{}
}

func newFakeIssuer(t *testing.T, u testUser) *fakeIssuer {
	f := &fakeIssuer{user: u, now: time.Now, ttl: time.Hour, codes: map[string]string{}, refresh: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		redirect, err := url.Parse(q.Get("redirect_uri"))
		if err != nil || r.URL.Path != "/oauth/authorize" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.n++
		code := fmt.Sprintf("code-%d", f.n)
		f.codes[code] = q.Get("redirect_uri")
		f.mu.Unlock()
		v := url.Values{"code": {code}, "state": {q.Get("state")}}
		redirect.RawQuery = v.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) AuthorizeURL(r AuthorizeRequest) string {
	v := url.Values{"redirect_uri": {r.RedirectURI}, "state": {r.State}}
	return f.srv.URL + "/oauth/authorize?" + v.Encode()
}

// mint is a token set for the current user; the caller holds mu.
func (f *fakeIssuer) mint() TokenSet {
	f.n++
	rt := fmt.Sprintf("rt-%d", f.n)
	f.refresh[rt] = true
	return TokenSet{IDToken: testIDToken(f.user), AccessToken: testAccessToken(f.n, f.now().Add(f.ttl)), RefreshToken: rt}
}

func (f *fakeIssuer) Exchange(ctx context.Context, code, verifier, redirectURI string) (TokenSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ru, ok := f.codes[code]; !ok || ru != redirectURI || verifier == "" {
		return TokenSet{}, &IssuerError{Status: 400, Code: "invalid_grant"}
	}
	delete(f.codes, code)
	return f.mint(), nil
}

func (f *fakeIssuer) Refresh(ctx context.Context, rt string, _ RefreshReason) (TokenSet, error) {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return TokenSet{}, fmt.Errorf("%w: %w", ErrIssuerUnavailable, ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fault != nil {
		return TokenSet{}, f.fault
	}
	valid, known := f.refresh[rt]
	if !known {
		return TokenSet{}, &IssuerError{Status: 401, Code: "refresh_token_invalidated"}
	}
	if !valid {
		f.reuse++
		return TokenSet{}, &IssuerError{Status: 401, Code: "refresh_token_reused"}
	}
	f.refresh[rt] = false
	f.refreshes++
	ts := f.mint()
	ts.IDToken = "" // optional on refresh: the stored one stays
	return ts, nil
}

func (f *fakeIssuer) ExchangeAPIKey(ctx context.Context, idToken string) (string, error) {
	return "sk-local-exchanged-key-0123456789", nil
}

func (f *fakeIssuer) Revoke(ctx context.Context, token, hint string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, hint+":"+token)
	delete(f.refresh, token)
	return nil
}

func (f *fakeIssuer) DeviceStart(ctx context.Context) (DeviceCode, error) {
	return DeviceCode{}, ErrDeviceCodeDisabled
}

func (f *fakeIssuer) DevicePoll(ctx context.Context, dc DeviceCode) (DeviceGrant, error) {
	return DeviceGrant{}, errors.New("not used")
}

func (f *fakeIssuer) Base() string    { return f.srv.URL }
func (f *fakeIssuer) IsDefault() bool { return false }

func (f *fakeIssuer) stats() (refreshes, reuse int, revoked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes, f.reuse, append([]string(nil), f.revoked...)
}
