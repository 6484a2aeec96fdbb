package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/store"
)

// The sidecar signed in to an OpenID provider: a real session.Manager
// with session.OIDCProvider and the provider's own store, served by
// rpc.Server to the fake editor, against zitadel's OpenID provider
// running in-process (internal/oidctest).

const providerName = "corp"

// providerWait bounds every wait on the provider: generous, only for
// failures (the device grant polls every 5 s).
const providerWait = 60 * time.Second

// tokenValues hides the secrets a transcript may hold.
var tokenValues = regexp.MustCompile(`"(accessToken|idToken)":"[^"]*"`)

// tamper sits under the provider client's HTTP client: it can rewrite
// the ID token of token answers, and it reports each revocation answered.
type tamper struct {
	mu      sync.Mutex
	idToken func(string) string // nil: answers pass as they are
	revoked chan struct{}       // receives after each /revoke answer
}

func newTamper() *tamper { return &tamper{revoked: make(chan struct{}, 8)} }

func (tp *tamper) setIDToken(f func(string) string) {
	tp.mu.Lock()
	tp.idToken = f
	tp.mu.Unlock()
}

func (tp *tamper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if req.URL.Path == "/revoke" {
		select {
		case tp.revoked <- struct{}{}:
		default:
		}
	}
	tp.mu.Lock()
	f := tp.idToken
	tp.mu.Unlock()
	if req.URL.Path != "/oauth/token" || f == nil || resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		if s, ok := m["id_token"].(string); ok {
			m["id_token"] = f(s)
			body, _ = json.Marshal(m)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// providerSidecar is one sidecar process's worth of parts, in-process.
type providerSidecar struct {
	home   string
	store  *store.Store
	mgr    *session.Manager
	ed     *editortest.Editor
	tamper *tamper
	logs   *logRecorder
	init   json.RawMessage // initialize's result
}

// noSecrets fails if any of the secrets is in the sidecar's log or in a
// message it sent other than an account/token reply.
func (ps *providerSidecar) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	logs := ps.logs.text()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			t.Error("a token is in the sidecar's log")
		}
		for _, m := range ps.ed.Messages() {
			if strings.Contains(string(m.Raw), s) && !strings.Contains(string(m.Result), `"accessToken"`) {
				t.Errorf("a token is in a message other than account/token's reply (method %q)", m.Method)
			}
		}
	}
}

type providerOpts struct {
	client, secret string
	watch          bool
}

// startProviderSidecar runs a sidecar for srv on home until the test
// ends; it is initialized.
func startProviderSidecar(t *testing.T, srv *oidctest.Server, home string, o providerOpts) *providerSidecar {
	t.Helper()
	if o.client == "" {
		o.client = oidctest.PublicClient
	}
	logs := newLogRecorder()
	logger := slog.New(logs)
	st, err := store.OpenProvider(store.Home{Dir: home}, providerName, store.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	tp := newTamper()
	prov, err := session.NewOIDCProvider(providerName, oidc.Config{
		Issuer: srv.URL, ClientID: o.client, ClientSecret: o.secret,
		HTTP: &http.Client{Timeout: 10 * time.Second, Transport: tp},
	})
	if err != nil {
		t.Fatal(err)
	}
	info := prov.Info()
	rs, err := rpc.NewServer(rpc.Options{Name: "codex-auth", Version: "0.0.0-test", Logger: logger, Provider: &info})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := session.New(session.Options{
		Store: st, Provider: prov, Editor: rs, Logger: logger,
		Headless:     func() bool { return true },
		DisableWatch: !o.watch,
		KeyringPoll:  time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	edEnd, in, out := editortest.Pipes()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rs.Run(ctx, mgr, in, out)
	}()
	ed := &editortest.Editor{Conn: editortest.NewConn(edEnd, edEnd, editortest.Options{
		Redact: func(b []byte) []byte { return tokenValues.ReplaceAll(b, []byte(`"$1":"<redacted>"`)) },
	})}
	t.Cleanup(func() {
		_ = ed.Close()
		cancel()
		<-done
		mgr.Close()
		if t.Failed() {
			t.Logf("transcript of the sidecar on %s (redacted):\n%s\nlog:\n%s", home, ed.Transcript(), logs.text())
		}
	})
	ps := &providerSidecar{home: home, store: st, mgr: mgr, ed: ed, tamper: tp, logs: logs}
	ictx, icancel := context.WithTimeout(t.Context(), providerWait)
	defer icancel()
	if err := ed.Call(ictx, "initialize", map[string]any{
		"capabilities": map[string]any{}, "initializationOptions": map[string]string{"protocolVersion": "1"},
	}, &ps.init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if err := ed.Notify("initialized", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	return ps
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), providerWait)
	t.Cleanup(cancel)
	return ctx
}

type loginStart struct {
	Type            string `json:"type"`
	LoginID         string `json:"loginId"`
	AuthURL         string `json:"authUrl"`
	VerificationURL string `json:"verificationUrl"`
	UserCode        string `json:"userCode"`
	ExpiresAt       string `json:"expiresAt"`
}

type loginCompleted struct {
	LoginID string  `json:"loginId"`
	Success bool    `json:"success"`
	Error   *string `json:"error"`
}

type oidcRead struct {
	Account *struct {
		Type      string  `json:"type"`
		Subject   string  `json:"subject"`
		Email     string  `json:"email"`
		Name      string  `json:"name"`
		ExpiresAt *string `json:"expiresAt"`
	} `json:"account"`
	RequiresOpenaiAuth bool              `json:"requiresOpenaiAuth"`
	Issuer             string            `json:"issuer"`
	Provider           *rpc.ProviderWire `json:"provider"`
	Store              rpc.Store         `json:"store"`
	Problem            string            `json:"problem"`
}

type oidcToken struct {
	Type        string  `json:"type"`
	AccessToken string  `json:"accessToken"`
	IDToken     string  `json:"idToken"`
	ExpiresAt   *string `json:"expiresAt"`
}

// completion waits for the login's account/login/completed.
func (ps *providerSidecar) completion(t *testing.T, id string) loginCompleted {
	t.Helper()
	raw, err := ps.ed.WaitFor(waitCtx(t), "account/login/completed", func(p json.RawMessage) bool {
		var c loginCompleted
		return json.Unmarshal(p, &c) == nil && c.LoginID == id
	})
	if err != nil {
		t.Fatal(err)
	}
	var c loginCompleted
	_ = json.Unmarshal(raw, &c)
	return c
}

// startBrowser starts a browser login and lets the user sign in on the
// provider's pages; it returns the login's start and the page the
// browser ended on.
func (ps *providerSidecar) startBrowser(t *testing.T) (loginStart, *oidctest.Page) {
	t.Helper()
	var ls loginStart
	if err := ps.ed.Call(waitCtx(t), "account/login/start", map[string]string{"type": "browser"}, &ls); err != nil {
		t.Fatalf("account/login/start browser: %v", err)
	}
	pg, err := oidctest.NewBrowser().Login(waitCtx(t), ls.AuthURL, oidctest.Username, oidctest.Password)
	if err != nil {
		t.Fatalf("the user on the provider's pages: %v", err)
	}
	return ls, pg
}

// login is a whole browser login that must succeed.
func (ps *providerSidecar) login(t *testing.T) {
	t.Helper()
	ls, pg := ps.startBrowser(t)
	if c := ps.completion(t, ls.LoginID); !c.Success {
		t.Fatalf("login completed = %+v (the browser ended on %s: %.200s)", c, pg.URL, pg.Body)
	}
}

func (ps *providerSidecar) read(t *testing.T) oidcRead {
	t.Helper()
	var r oidcRead
	if err := ps.ed.Call(waitCtx(t), "account/read", map[string]any{}, &r); err != nil {
		t.Fatalf("account/read: %v", err)
	}
	return r
}

func (ps *providerSidecar) token(t *testing.T, refresh bool) oidcToken {
	t.Helper()
	var tok oidcToken
	if err := ps.ed.Call(waitCtx(t), "account/token", map[string]bool{"refresh": refresh}, &tok); err != nil {
		t.Fatalf("account/token: %v", err)
	}
	return tok
}

// stored is the provider's record on disk (nil when none).
func (ps *providerSidecar) stored(t *testing.T) *store.Record {
	t.Helper()
	rec, err := ps.store.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// directProvider is the provider client as another program would use
// it, to ask the provider about tokens the sidecar holds.
func directProvider(t *testing.T, srv *oidctest.Server) *oidc.Provider {
	t.Helper()
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: srv.URL, ClientID: oidctest.PublicClient, HTTP: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantRefused(t *testing.T, what string, err error) {
	t.Helper()
	var pe *oidc.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" {
		t.Errorf("%s: %v, want invalid_grant from the provider", what, err)
	}
}

// TestProviderBrowserLogin: initialize names the provider; the browser
// login (PKCE S256, state, nonce, a loopback redirect on 127.0.0.1 at a
// free port) through the provider's own login form; account/read,
// account/updated and account/token in the provider's shapes; the record
// in the provider's folder, and Codex's auth.json untouched throughout.
func TestProviderBrowserLogin(t *testing.T) {
	srv := oidctest.Start(t)
	home := t.TempDir()
	codexAuth := filepath.Join(home, "auth.json")
	const codexRecord = `{"auth_mode":"apikey","OPENAI_API_KEY":"sk-codex-own-0123456789"}`
	if err := os.WriteFile(codexAuth, []byte(codexRecord), 0o600); err != nil {
		t.Fatal(err)
	}
	ps := startProviderSidecar(t, srv, home, providerOpts{})

	var init struct {
		Capabilities struct {
			Experimental struct {
				CodexAuth struct {
					Provider *rpc.ProviderWire `json:"provider"`
				} `json:"codexAuth"`
			} `json:"experimental"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(ps.init, &init); err != nil {
		t.Fatal(err)
	}
	want := rpc.ProviderWire{Name: providerName, Kind: "oidc", Issuer: srv.URL}
	if p := init.Capabilities.Experimental.CodexAuth.Provider; p == nil || *p != want {
		t.Errorf("initialize's provider = %+v, want %+v", p, want)
	}
	if r := ps.read(t); r.Account != nil || r.Provider == nil || *r.Provider != want || r.RequiresOpenaiAuth {
		t.Errorf("account/read before login = %+v", r)
	}

	ls, pg := ps.startBrowser(t)
	if ls.Type != "browser" || ls.LoginID == "" {
		t.Errorf("login start = %+v", ls)
	}
	u, err := url.Parse(ls.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	redirect, _ := url.Parse(q.Get("redirect_uri"))
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("client_id") != oidctest.PublicClient || redirect == nil || redirect.Hostname() != "127.0.0.1" || redirect.Path != "/callback" || redirect.Port() == "" {
		t.Errorf("authorization URL query = %v", q)
	}
	if c := ps.completion(t, ls.LoginID); !c.Success {
		t.Fatalf("login completed = %+v", c)
	}
	if pg.URL.Path != "/success" || !strings.Contains(pg.Body, "signed in to "+providerName) {
		t.Errorf("the browser ended on %s (%d): %.200s", pg.URL, pg.Status, pg.Body)
	}
	if _, err := ps.ed.WaitFor(waitCtx(t), "account/updated", func(p json.RawMessage) bool {
		var u struct {
			AuthMode *string `json:"authMode"`
			Email    string  `json:"email"`
		}
		return json.Unmarshal(p, &u) == nil && u.AuthMode != nil && *u.AuthMode == "oidc" && u.Email == oidctest.UserEmail
	}); err != nil {
		t.Fatal(err)
	}

	r := ps.read(t)
	if a := r.Account; a == nil || a.Type != "oidc" || a.Subject != oidctest.UserID || a.Email != oidctest.UserEmail || a.Name != oidctest.UserName || a.ExpiresAt == nil {
		t.Errorf("account = %+v", a)
	}
	wantLoc := filepath.Join(home, "codex-auth", "providers", providerName, "auth.json")
	if r.Store.Location != wantLoc || r.Issuer != srv.URL || r.Problem != "" {
		t.Errorf("account/read = %+v, want the store at %s", r, wantLoc)
	}
	if fi, err := os.Stat(wantLoc); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the provider's record: %v, %v", fi, err)
	}
	tok := ps.token(t, false)
	rec := ps.stored(t)
	if tok.Type != "oidc" || tok.AccessToken == "" || tok.AccessToken != rec.Tokens.AccessToken || tok.IDToken == "" || tok.ExpiresAt == nil {
		t.Errorf("account/token = type %q, access token %t (stored %t), id token %t, expiresAt %v",
			tok.Type, tok.AccessToken != "", tok.AccessToken == rec.Tokens.AccessToken, tok.IDToken != "", tok.ExpiresAt)
	}
	// Codex's own login types are not a provider's.
	for _, typ := range []string{"chatgpt", "chatgptDeviceCode", "apiKey"} {
		err := ps.ed.Call(waitCtx(t), "account/login/start", map[string]string{"type": typ, "apiKey": "sk-never-0123456789"}, nil)
		wantCode(t, typ, err, -32016)
	}
	ps.token(t, true) // a refresh
	after := ps.stored(t)
	if err := ps.ed.Call(waitCtx(t), "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	ps.noSecrets(t, rec.Tokens.AccessToken, rec.Tokens.RefreshToken, rec.Tokens.IDToken,
		after.Tokens.AccessToken, after.Tokens.RefreshToken, after.Tokens.IDToken)
	if b, err := os.ReadFile(codexAuth); err != nil || string(b) != codexRecord {
		t.Errorf("Codex's auth.json after a provider's login, refresh and logout = %q, %v", b, err)
	}
	if _, err := os.Stat(wantLoc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the provider's record after logout: %v", err)
	}
}

// TestProviderDeviceGrant: the RFC 8628 device grant through the sidecar,
// approved or denied by the user on the provider's device pages.
func TestProviderDeviceGrant(t *testing.T) {
	srv := oidctest.Start(t)
	for _, tc := range []struct {
		name    string
		approve bool
	}{{"approved", true}, {"denied", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := startProviderSidecar(t, srv, t.TempDir(), providerOpts{})
			var ls loginStart
			if err := ps.ed.Call(waitCtx(t), "account/login/start", map[string]string{"type": "deviceCode"}, &ls); err != nil {
				t.Fatal(err)
			}
			if ls.Type != "deviceCode" || ls.UserCode == "" || !strings.HasPrefix(ls.VerificationURL, srv.URL+"/") || ls.ExpiresAt == "" {
				t.Fatalf("device start = %+v", ls)
			}
			b := oidctest.NewBrowser()
			act := b.ApproveDevice
			if !tc.approve {
				act = b.DenyDevice
			}
			if err := act(waitCtx(t), ls.VerificationURL, ls.UserCode, oidctest.Username, oidctest.Password); err != nil {
				t.Fatal(err)
			}
			c := ps.completion(t, ls.LoginID)
			if !tc.approve {
				if c.Success || c.Error == nil || !strings.Contains(*c.Error, "denied") {
					t.Errorf("denied login completed = %+v", c)
				}
				if ps.stored(t) != nil {
					t.Error("a denied login stored a record")
				}
				return
			}
			if !c.Success {
				t.Fatalf("login completed = %+v", c)
			}
			if a := ps.read(t).Account; a == nil || a.Type != "oidc" || a.Subject != oidctest.UserID {
				t.Errorf("account = %+v", a)
			}
			if tok := ps.token(t, true); tok.AccessToken == "" {
				t.Error("no access token after a refresh of the device grant's tokens")
			}
		})
	}
}

// TestProviderRefreshRotation: account/token {refresh:true} redeems the
// refresh token, the rotated one is saved, and the provider refuses the
// old one afterwards.
func TestProviderRefreshRotation(t *testing.T) {
	srv := oidctest.Start(t)
	ps := startProviderSidecar(t, srv, t.TempDir(), providerOpts{})
	ps.login(t)
	before := ps.stored(t)
	tok := ps.token(t, true)
	after := ps.stored(t)
	if tok.AccessToken == before.Tokens.AccessToken || tok.AccessToken != after.Tokens.AccessToken {
		t.Errorf("refresh: new access token %t, saved %t", tok.AccessToken != before.Tokens.AccessToken, tok.AccessToken == after.Tokens.AccessToken)
	}
	if after.Tokens.RefreshToken == before.Tokens.RefreshToken || after.Tokens.RefreshToken == "" {
		t.Fatal("the refresh token was not rotated")
	}
	if info, _ := after.OIDC(); info.Subject != oidctest.UserID || info.Email != oidctest.UserEmail {
		t.Errorf("the record after a refresh: %+v", info)
	}
	p := directProvider(t, srv)
	_, err := p.Refresh(t.Context(), before.Tokens.RefreshToken, "")
	wantRefused(t, "the old refresh token", err)
	// The sidecar goes on with the new one.
	if tok2 := ps.token(t, true); tok2.AccessToken == tok.AccessToken {
		t.Error("a second refresh gave the same access token")
	}
}

// TestProviderRevokeOnLogout: account/logout removes the record at once
// and revokes the refresh token at the provider (RFC 7009).
func TestProviderRevokeOnLogout(t *testing.T) {
	srv := oidctest.Start(t)
	ps := startProviderSidecar(t, srv, t.TempDir(), providerOpts{})
	ps.login(t)
	rt := ps.stored(t).Tokens.RefreshToken
	if err := ps.ed.Call(waitCtx(t), "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	if ps.stored(t) != nil {
		t.Error("record still stored after logout")
	}
	select {
	case <-ps.tamper.revoked:
	case <-waitCtx(t).Done():
		t.Fatal("no revocation reached the provider")
	}
	_, err := directProvider(t, srv).Refresh(t.Context(), rt, "")
	wantRefused(t, "the revoked refresh token", err)
	if err := ps.ed.Call(waitCtx(t), "account/token", nil, nil); err != nil {
		wantCode(t, "account/token after logout", err, -32010)
	} else {
		t.Error("account/token after logout succeeded")
	}
}

// TestProviderBadIDToken: an ID token whose signature is not the
// provider's, or issued to another client, fails the login and stores
// nothing.
func TestProviderBadIDToken(t *testing.T) {
	srv := oidctest.Start(t)
	// A genuine ID token of the provider for another client.
	other := startProviderSidecar(t, srv, t.TempDir(), providerOpts{client: oidctest.OtherClient})
	other.login(t)
	otherIDToken := other.stored(t).Tokens.IDToken

	for _, tc := range []struct {
		name    string
		rewrite func(string) string
		want    string
	}{
		{"bad signature", func(s string) string {
			// One character in the middle of the signature changed.
			b := []byte(s)
			k := strings.LastIndexByte(s, '.') + (len(s)-strings.LastIndexByte(s, '.'))/2
			if b[k] == 'A' {
				b[k] = 'B'
			} else {
				b[k] = 'A'
			}
			return string(b)
		}, "signature"},
		{"wrong audience", func(string) string { return otherIDToken }, "another client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := startProviderSidecar(t, srv, t.TempDir(), providerOpts{})
			ps.tamper.setIDToken(tc.rewrite)
			ls, _ := ps.startBrowser(t)
			c := ps.completion(t, ls.LoginID)
			if c.Success || c.Error == nil || !strings.Contains(*c.Error, "ID token is not valid") || !strings.Contains(*c.Error, tc.want) {
				t.Errorf("login completed = %+v, want a refused ID token (%s)", c, tc.want)
			}
			if ps.stored(t) != nil {
				t.Error("a login with a bad ID token stored a record")
			}
			if a := ps.read(t).Account; a != nil {
				t.Errorf("account after a refused login = %+v", a)
			}
		})
	}
}

// TestProviderDown: a provider that cannot be reached is -32012 for a
// login start (discovery never happened) and for a refresh; the token
// still valid is served, and the sidecar keeps answering.
func TestProviderDown(t *testing.T) {
	t.Run("before discovery", func(t *testing.T) {
		srv := oidctest.Start(t)
		ps := startProviderSidecar(t, srv, t.TempDir(), providerOpts{})
		srv.Close()
		for _, typ := range []string{"browser", "deviceCode"} {
			err := ps.ed.Call(waitCtx(t), "account/login/start", map[string]string{"type": typ}, nil)
			wantCode(t, typ, err, -32012)
		}
		if r := ps.read(t); r.Account != nil || r.Provider == nil {
			t.Errorf("account/read with the provider down = %+v", r)
		}
	})
	t.Run("after login", func(t *testing.T) {
		srv := oidctest.Start(t)
		ps := startProviderSidecar(t, srv, t.TempDir(), providerOpts{})
		ps.login(t)
		held := ps.stored(t)
		srv.Close()
		err := ps.ed.Call(waitCtx(t), "account/token", map[string]bool{"refresh": true}, nil)
		wantCode(t, "a forced refresh", err, -32012)
		if tok := ps.token(t, false); tok.AccessToken != held.Tokens.AccessToken {
			t.Error("the valid access token is not served while the provider is down")
		}
		if ps.stored(t).Tokens.RefreshToken != held.Tokens.RefreshToken {
			t.Error("the record changed while the provider was down")
		}
	})
}

// TestProviderSidecarsShare: two sidecars of one provider on one home
// share its record: a login in one reaches the other; a refresh in one
// is adopted by the other (which never redeems the spent token); a
// logout in one ends the other's session.
func TestProviderSidecarsShare(t *testing.T) {
	srv := oidctest.Start(t)
	home := t.TempDir()
	a := startProviderSidecar(t, srv, home, providerOpts{watch: true})
	b := startProviderSidecar(t, srv, home, providerOpts{watch: true})
	a.login(t)
	if _, err := b.ed.WaitFor(waitCtx(t), "account/updated", func(p json.RawMessage) bool {
		return strings.Contains(string(p), `"authMode":"oidc"`)
	}); err != nil {
		t.Fatal(err)
	}
	first := b.token(t, false)
	if first.AccessToken != a.stored(t).Tokens.AccessToken {
		t.Error("the second sidecar serves another token than the one stored")
	}
	refreshed := a.token(t, true)
	// b's forced refresh finds, under the lock, a token newer than the
	// one it served: it adopts it without redeeming the spent refresh
	// token (which the provider would refuse).
	if got := b.token(t, true); got.AccessToken != refreshed.AccessToken {
		t.Error("the second sidecar did not adopt the refresh made by the first")
	}
	if a.token(t, false).AccessToken != refreshed.AccessToken {
		t.Error("the first sidecar lost its refreshed token")
	}
	if err := a.ed.Call(waitCtx(t), "account/logout", nil, nil); err != nil {
		t.Fatal(err)
	}
	raw, err := b.ed.WaitFor(waitCtx(t), "account/sessionInvalidated", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"reason":"loggedOut"`) {
		t.Errorf("sessionInvalidated = %s", raw)
	}
	if _, err := b.ed.WaitFor(waitCtx(t), "account/updated", func(p json.RawMessage) bool {
		return strings.Contains(string(p), `"authMode":null`)
	}); err != nil {
		t.Fatal(err)
	}
	err = b.ed.Call(waitCtx(t), "account/token", nil, nil)
	wantCode(t, "account/token in the other sidecar after logout", err, -32010)
}
