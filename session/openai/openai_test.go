package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/session/oauth"
	"github.com/codex-auth/codex-auth/store"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// openaiSeen is one request as the test server received it.
type openaiSeen struct {
	Method      string
	Path        string
	ContentType string
	Fields      map[string]string
}

// openaiTestServer answers every request with status and body and hands
// the request it saw to the test.
func openaiTestServer(t *testing.T, status int, body string) (*Issuer, <-chan openaiSeen) {
	t.Helper()
	seen := make(chan openaiSeen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := openaiSeen{Method: r.Method, Path: r.URL.Path, Fields: map[string]string{}}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		s.ContentType = mt
		data, _ := io.ReadAll(r.Body)
		switch mt {
		case "application/json":
			if err := json.Unmarshal(data, &s.Fields); err != nil {
				t.Errorf("request body is not a JSON object of strings: %v", err)
			}
		case "application/x-www-form-urlencoded":
			v, err := url.ParseQuery(string(data))
			if err != nil {
				t.Errorf("request body is not a form: %v", err)
			}
			for k := range v {
				if len(v[k]) != 1 {
					t.Errorf("form field %s given %d times", k, len(v[k]))
				}
				s.Fields[k] = v.Get(k)
			}
		}
		seen <- s
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return openaiNew(t, srv.URL, 5*time.Second), seen
}

func openaiNew(t *testing.T, base string, timeout time.Duration) *Issuer {
	t.Helper()
	iss, err := New(Config{Issuer: base, HTTP: &http.Client{Timeout: timeout}})
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	return iss
}

func TestOpenAIConfig(t *testing.T) {
	client := &http.Client{Timeout: time.Second}
	tests := []struct {
		name      string
		cfg       Config
		wantField string // "" means valid
		wantBase  string
	}{
		{"defaults", Config{HTTP: client}, "", DefaultIssuer},
		{"trailing slash", Config{HTTP: client, Issuer: "https://auth.example.com/"}, "", "https://auth.example.com"},
		{"loopback http", Config{HTTP: client, Issuer: "http://127.0.0.1:8080"}, "", "http://127.0.0.1:8080"},
		{"localhost http", Config{HTTP: client, Issuer: "http://localhost:8080"}, "", "http://localhost:8080"},
		{"ipv6 loopback http", Config{HTTP: client, Issuer: "http://[::1]:8080"}, "", "http://[::1]:8080"},
		{"no client", Config{}, "Config.HTTP", ""},
		{"client without timeout", Config{HTTP: &http.Client{}}, "Config.HTTP", ""},
		{"remote http", Config{HTTP: client, Issuer: "http://auth.example.com"}, "Config.Issuer", ""},
		{"relative", Config{HTTP: client, Issuer: "auth.example.com"}, "Config.Issuer", ""},
		{"query", Config{HTTP: client, Issuer: "https://auth.example.com/?x=1"}, "Config.Issuer", ""},
		{"ftp", Config{HTTP: client, Issuer: "ftp://auth.example.com"}, "Config.Issuer", ""},
		{"bad refresh URL", Config{HTTP: client, RefreshURL: "http://example.com/token"}, "Config.RefreshURL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, err := New(tt.cfg)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if got := iss.Base(); got != tt.wantBase {
					t.Errorf("Base() = %q, want %q", got, tt.wantBase)
				}
				if got, want := iss.IsDefault(), tt.wantBase == DefaultIssuer; got != want {
					t.Errorf("IsDefault() = %v, want %v", got, want)
				}
				return
			}
			var ie *ConfigError
			if !errors.As(err, &ie) || ie.Field != tt.wantField {
				t.Fatalf("New error = %v, want an InputError on %s", err, tt.wantField)
			}
		})
	}
}

func TestOpenAIAuthorizeURL(t *testing.T) {
	iss := openaiNew(t, "http://127.0.0.1:9", time.Second)
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 appendix B
	tests := []struct {
		name  string
		req   oauth.AuthorizeRequest
		extra map[string]string
	}{
		{"plain", oauth.AuthorizeRequest{RedirectURI: "http://localhost:1455/auth/callback", State: "st", Verifier: verifier},
			map[string]string{"originator": DefaultOriginator}},
		{"workspaces and originator", oauth.AuthorizeRequest{RedirectURI: "http://localhost:1457/auth/callback", State: "st",
			Verifier: verifier, AllowedWorkspaces: []string{"ws-a", "ws-b"}, Originator: "codex_vscode"},
			map[string]string{"originator": "codex_vscode", "allowed_workspace_id": "ws-a,ws-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(iss.AuthorizeURL(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := u.Scheme+"://"+u.Host+u.Path, "http://127.0.0.1:9/oauth/authorize"; got != want {
				t.Errorf("endpoint = %q, want %q", got, want)
			}
			got := map[string]string{}
			for k, v := range u.Query() {
				got[k] = strings.Join(v, "|")
			}
			want := map[string]string{
				"response_type":              "code",
				"client_id":                  DefaultClientID,
				"redirect_uri":               tt.req.RedirectURI,
				"scope":                      "openid profile email offline_access",
				"code_challenge":             "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", // RFC 7636 appendix B
				"code_challenge_method":      "S256",
				"state":                      "st",
				"id_token_add_organizations": "true",
				"codex_cli_simplified_flow":  "true",
			}
			for k, v := range tt.extra {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenAIRequests(t *testing.T) {
	tokens := `{"id_token":"idt","access_token":"at","refresh_token":"rt","token_type":"Bearer","expires_in":3600}`
	type call func(ctx context.Context, iss *Issuer) (any, error)
	tests := []struct {
		name   string
		status int
		body   string
		call   call
		want   any
		seen   openaiSeen
	}{
		{"exchange", 200, tokens,
			func(ctx context.Context, iss *Issuer) (any, error) {
				return iss.Exchange(ctx, "the-code", "the-verifier", "http://localhost:1455/auth/callback")
			},
			oauth.TokenSet{IDToken: "idt", AccessToken: "at", RefreshToken: "rt"},
			openaiSeen{"POST", "/oauth/token", "application/x-www-form-urlencoded", map[string]string{
				"grant_type": "authorization_code", "code": "the-code", "code_verifier": "the-verifier",
				"redirect_uri": "http://localhost:1455/auth/callback", "client_id": DefaultClientID}}},
		{"refresh rotates all", 200, tokens,
			func(ctx context.Context, iss *Issuer) (any, error) {
				return iss.Refresh(ctx, "old-rt", oauth.RefreshProactive)
			},
			oauth.TokenSet{IDToken: "idt", AccessToken: "at", RefreshToken: "rt"},
			openaiSeen{"POST", "/oauth/token", "application/json", map[string]string{
				"grant_type": "refresh_token", "refresh_token": "old-rt", "client_id": DefaultClientID, "refresh_reason": "proactive_expiry"}}},
		{"refresh with only an access token", 200, `{"access_token":"at2"}`,
			func(ctx context.Context, iss *Issuer) (any, error) {
				return iss.Refresh(ctx, "old-rt", oauth.RefreshForced)
			},
			oauth.TokenSet{AccessToken: "at2"},
			openaiSeen{"POST", "/oauth/token", "application/json", map[string]string{
				"grant_type": "refresh_token", "refresh_token": "old-rt", "client_id": DefaultClientID, "refresh_reason": "forced"}}},
		{"api key", 200, `{"access_token":"sk-proj-abc","token_type":"Bearer"}`,
			func(ctx context.Context, iss *Issuer) (any, error) { return iss.ExchangeAPIKey(ctx, "idt") },
			"sk-proj-abc",
			openaiSeen{"POST", "/oauth/token", "application/x-www-form-urlencoded", map[string]string{
				"grant_type":      "urn:ietf:params:oauth:grant-type:token-exchange",
				"client_id":       DefaultClientID,
				"requested_token": "openai-api-key", "subject_token": "idt",
				"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}}},
		{"revoke", 200, `{}`,
			func(ctx context.Context, iss *Issuer) (any, error) {
				return nil, iss.Revoke(ctx, "rt", "refresh_token")
			},
			nil,
			openaiSeen{"POST", "/oauth/revoke", "application/json", map[string]string{
				"token": "rt", "token_type_hint": "refresh_token", "client_id": DefaultClientID}}},
		{"revoke with an empty body", 200, ``,
			func(ctx context.Context, iss *Issuer) (any, error) {
				return nil, iss.Revoke(ctx, "at", "access_token")
			},
			nil,
			openaiSeen{"POST", "/oauth/revoke", "application/json", map[string]string{
				"token": "at", "token_type_hint": "access_token", "client_id": DefaultClientID}}},
		{"device start, string interval", 200, `{"device_auth_id":"da-1","user_code":"ABCD-EFGH","interval":"7"}`,
			func(ctx context.Context, iss *Issuer) (any, error) { return iss.DeviceStart(ctx) },
			oauth.DeviceCode{DeviceAuthID: "da-1", UserCode: "ABCD-EFGH", VerificationURL: "BASE/codex/device", Interval: 7 * time.Second},
			openaiSeen{"POST", "/api/accounts/deviceauth/usercode", "application/json", map[string]string{
				"client_id": DefaultClientID}}},
		{"device start, number interval, usercode alias", 200, `{"device_auth_id":"da-1","usercode":"ABCD","interval":3}`,
			func(ctx context.Context, iss *Issuer) (any, error) { return iss.DeviceStart(ctx) },
			oauth.DeviceCode{DeviceAuthID: "da-1", UserCode: "ABCD", VerificationURL: "BASE/codex/device", Interval: 3 * time.Second},
			openaiSeen{"POST", "/api/accounts/deviceauth/usercode", "application/json", map[string]string{
				"client_id": DefaultClientID}}},
		{"device start, bad interval", 200, `{"device_auth_id":"da-1","user_code":"ABCD","interval":"soon"}`,
			func(ctx context.Context, iss *Issuer) (any, error) { return iss.DeviceStart(ctx) },
			oauth.DeviceCode{DeviceAuthID: "da-1", UserCode: "ABCD", VerificationURL: "BASE/codex/device"},
			openaiSeen{"POST", "/api/accounts/deviceauth/usercode", "application/json", map[string]string{
				"client_id": DefaultClientID}}},
		{"device poll approved", 200, `{"authorization_code":"ac","code_challenge":"cc","code_verifier":"cv"}`,
			func(ctx context.Context, iss *Issuer) (any, error) {
				return iss.DevicePoll(ctx, oauth.DeviceCode{DeviceAuthID: "da-1", UserCode: "ABCD"})
			},
			oauth.DeviceGrant{AuthorizationCode: "ac", CodeVerifier: "cv", RedirectURI: "BASE/deviceauth/callback"},
			openaiSeen{"POST", "/api/accounts/deviceauth/token", "application/json", map[string]string{
				"device_auth_id": "da-1", "user_code": "ABCD"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, seen := openaiTestServer(t, tt.status, tt.body)
			got, err := tt.call(t.Context(), iss)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			want := tt.want
			switch w := want.(type) {
			case oauth.DeviceCode:
				w.VerificationURL = strings.Replace(w.VerificationURL, "BASE", iss.Base(), 1)
				want = w
			case oauth.DeviceGrant:
				w.RedirectURI = strings.Replace(w.RedirectURI, "BASE", iss.Base(), 1)
				want = w
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.seen, <-seen); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenAIRefreshURLOverride(t *testing.T) {
	_, seen := openaiTestServer(t, 200, `{"access_token":"at"}`)
	refresh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/custom/refresh" {
			t.Errorf("refresh path = %q, want /custom/refresh", r.URL.Path)
		}
		io.WriteString(w, `{"access_token":"from-override"}`)
	}))
	defer refresh.Close()
	iss, err := New(Config{
		Issuer:     "http://127.0.0.1:9", // nothing listens: only the override may be called
		RefreshURL: refresh.URL + "/custom/refresh",
		HTTP:       &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := iss.Refresh(t.Context(), "rt", oauth.RefreshProactive)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if diff := cmp.Diff(oauth.TokenSet{AccessToken: "from-override"}, got); diff != "" {
		t.Errorf("Refresh (-want +got):\n%s", diff)
	}
	select {
	case s := <-seen:
		t.Errorf("the issuer got %s %s; want only the override called", s.Method, s.Path)
	default:
	}
}

// openaiErrCheck describes the error a call must return.
type openaiErrCheck struct {
	unavailable, invalid, pending, disabled bool
	issuer                                  *oauth.IssuerError // compared when set
	permanent                               bool
}

func (c openaiErrCheck) check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []struct {
		want bool
		err  error
	}{
		{c.unavailable, oauth.ErrIssuerUnavailable},
		{c.invalid, oauth.ErrInvalidResponse},
		{c.pending, oauth.ErrDevicePending},
		{c.disabled, oauth.ErrDeviceCodeDisabled},
	} {
		if got := errors.Is(err, s.err); got != s.want {
			t.Errorf("errors.Is(%v, %q) = %v, want %v", err, s.err, got, s.want)
		}
	}
	var ie *oauth.IssuerError
	if c.issuer != nil {
		if !errors.As(err, &ie) {
			t.Fatalf("error %v is not an *oauth.IssuerError", err)
		}
		if diff := cmp.Diff(c.issuer, ie); diff != "" {
			t.Errorf("oauth.IssuerError (-want +got):\n%s", diff)
		}
		if got := ie.Permanent(); got != c.permanent {
			t.Errorf("Permanent() = %v, want %v", got, c.permanent)
		}
	} else if errors.As(err, &ie) {
		t.Errorf("error %v is an *oauth.IssuerError; want none", err)
	}
	for _, secret := range []string{"SECRET", "rt-old", "the-verifier"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains a secret or the response body", err)
		}
	}
}

// checkCode is check comparing only the oauth.IssuerError's status and code
// (and not its Description, which is the server's prose).
func (c openaiErrCheck) checkCode(t *testing.T, err error) {
	t.Helper()
	var ie *oauth.IssuerError
	if c.issuer != nil && errors.As(err, &ie) {
		want := *c.issuer
		want.Description = ie.Description
		if c.issuer.Code == "" {
			want.Code = ie.Code
		}
		c.issuer = &want
	}
	c.check(t, err)
}

func TestOpenAIErrors(t *testing.T) {
	refresh := func(ctx context.Context, iss *Issuer) error {
		_, err := iss.Refresh(ctx, "rt-old", oauth.RefreshProactive)
		return err
	}
	exchange := func(ctx context.Context, iss *Issuer) error {
		_, err := iss.Exchange(ctx, "code", "the-verifier", "http://localhost:1455/auth/callback")
		return err
	}
	start := func(ctx context.Context, iss *Issuer) error {
		_, err := iss.DeviceStart(ctx)
		return err
	}
	poll := func(ctx context.Context, iss *Issuer) error {
		_, err := iss.DevicePoll(ctx, oauth.DeviceCode{DeviceAuthID: "da", UserCode: "UC"})
		return err
	}
	apiKey := func(ctx context.Context, iss *Issuer) error {
		_, err := iss.ExchangeAPIKey(ctx, "idt")
		return err
	}
	tests := []struct {
		name   string
		call   func(context.Context, *Issuer) error
		status int
		body   string
		want   openaiErrCheck
	}{
		{"refresh reused (OpenAI shape)", refresh, 401,
			`{"error":{"code":"refresh_token_reused","message":"already used","type":"invalid_request_error"}}`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 401, Code: "refresh_token_reused", Description: "already used"}, permanent: true}},
		{"refresh expired, 400 (OpenAI shape)", refresh, 400,
			`{"error":{"code":"refresh_token_expired","message":"expired"}}`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 400, Code: "refresh_token_expired", Description: "expired"}, permanent: true}},
		{"refresh invalid_grant (RFC 6749 shape)", refresh, 400,
			`{"error":"invalid_grant","error_description":"bad token"}`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 400, Code: "invalid_grant", Description: "bad token"}, permanent: true}},
		{"refresh invalid_request is not permanent", refresh, 400,
			`{"error":"invalid_request"}`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 400, Code: "invalid_request"}}},
		{"refresh 401 without a body is permanent", refresh, 401, ``,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 401}, permanent: true}},
		{"refresh 403 html", refresh, 403, `<html>SECRET</html>`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 403}}},
		{"refresh 500", refresh, 500, `{"error":"server_error","error_description":"SECRET"}`,
			openaiErrCheck{unavailable: true}},
		{"refresh 502", refresh, 502, `bad gateway`, openaiErrCheck{unavailable: true}},
		{"refresh 429", refresh, 429, `{"error":"rate_limited"}`, openaiErrCheck{unavailable: true}},
		{"refresh truncated JSON", refresh, 200, `{"access_token":"SECRET`, openaiErrCheck{invalid: true}},
		{"refresh not JSON", refresh, 200, `<html>SECRET</html>`, openaiErrCheck{invalid: true}},
		{"refresh wrong type", refresh, 200, `{"access_token":42}`, openaiErrCheck{invalid: true}},
		{"exchange missing refresh_token", exchange, 200, `{"id_token":"SECRET","access_token":"SECRET"}`,
			openaiErrCheck{invalid: true}},
		{"exchange missing id_token", exchange, 200, `{"refresh_token":"SECRET","access_token":"SECRET"}`,
			openaiErrCheck{invalid: true}},
		{"exchange empty object", exchange, 200, `{}`, openaiErrCheck{invalid: true}},
		{"exchange invalid_grant", exchange, 400, `{"error":"invalid_grant","error_description":"code used"}`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 400, Code: "invalid_grant", Description: "code used"}, permanent: true}},
		{"api key missing", apiKey, 200, `{"token_type":"Bearer"}`, openaiErrCheck{invalid: true}},
		{"device start 404", start, 404, `{"error":"not_found"}`,
			openaiErrCheck{disabled: true}},
		{"device start 500", start, 500, ``, openaiErrCheck{unavailable: true}},
		{"device start missing user code", start, 200, `{"device_auth_id":"da","interval":"5"}`,
			openaiErrCheck{invalid: true}},
		{"device poll 403 pending", poll, 403, `{"error":"authorization_pending"}`, openaiErrCheck{pending: true}},
		{"device poll 404 pending", poll, 404, ``, openaiErrCheck{pending: true}},
		{"device poll denied", poll, 400, `{"error":"access_denied"}`,
			openaiErrCheck{issuer: &oauth.IssuerError{Status: 400, Code: "access_denied"}}},
		{"device poll 503", poll, 503, ``, openaiErrCheck{unavailable: true}},
		{"device poll missing verifier", poll, 200, `{"authorization_code":"SECRET"}`, openaiErrCheck{invalid: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, _ := openaiTestServer(t, tt.status, tt.body)
			tt.want.check(t, tt.call(t.Context(), iss))
		})
	}
}

func TestOpenAINetworkErrors(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = openaiNew(t, "http://"+addr, 5*time.Second).Refresh(t.Context(), "rt-old", oauth.RefreshProactive)
		openaiErrCheck{unavailable: true}.check(t, err)
	})
	t.Run("connection dropped before answering", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		defer srv.Close()
		_, err := openaiNew(t, srv.URL, 5*time.Second).Exchange(t.Context(), "c", "the-verifier", "http://localhost:1455/auth/callback")
		openaiErrCheck{unavailable: true}.check(t, err)
	})
	t.Run("connection dropped mid-body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(200)
			io.WriteString(w, `{"access_token":"SECRET`)
			// returning short of Content-Length makes the server close the connection
		}))
		defer srv.Close()
		_, err := openaiNew(t, srv.URL, 5*time.Second).Refresh(t.Context(), "rt-old", oauth.RefreshProactive)
		openaiErrCheck{unavailable: true}.check(t, err)
	})
	t.Run("hanging server, short client timeout", func(t *testing.T) {
		// Accepts and never answers, as a network that swallows packets.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		conns := make(chan net.Conn, 10)
		defer func() {
			ln.Close()
			for c := range conns {
				c.Close()
			}
		}()
		go func() {
			defer close(conns)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns <- c
			}
		}()
		_, err = openaiNew(t, "http://"+ln.Addr().String(), 50*time.Millisecond).DeviceStart(t.Context())
		openaiErrCheck{unavailable: true}.check(t, err)
	})
	t.Run("caller cancels", func(t *testing.T) {
		block := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(block)
		ctx, cancel := context.WithCancel(t.Context())
		go cancel()
		_, err := openaiNew(t, srv.URL, time.Minute).DevicePoll(ctx, oauth.DeviceCode{DeviceAuthID: "d", UserCode: "u"})
		if !errors.Is(err, context.Canceled) || errors.Is(err, oauth.ErrIssuerUnavailable) {
			t.Errorf("DevicePoll error = %v, want context.Canceled and not oauth.ErrIssuerUnavailable", err)
		}
	})
}

// Against the local issuer (internal/localissuer), strict like OpenAI's.

// openaiLocal starts a local issuer and an Issuer pointed at it.
func openaiLocal(t *testing.T, cfg localissuer.Config) (*localissuer.Server, *Issuer) {
	t.Helper()
	srv, err := localissuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, openaiNew(t, base, 5*time.Second)
}

// openaiAuthorize does the browser's part of a login: GET the authorize
// URL without following the redirect and read the code from Location,
// checking the state came back.
func openaiAuthorize(t *testing.T, iss *Issuer, redirect, verifier string) string {
	t.Helper()
	browser := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := browser.Get(iss.AuthorizeURL(oauth.AuthorizeRequest{RedirectURI: redirect, State: "state-1", Verifier: verifier}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect || q.Get("state") != "state-1" || q.Get("code") == "" {
		t.Fatalf("authorize redirected to %s%s with state %q and a code: %v; want %s, state-1 and a code",
			loc.Host, loc.Path, q.Get("state"), q.Get("code") != "", redirect)
	}
	return q.Get("code")
}

// openaiLogin signs in through the browser flow and returns the tokens.
func openaiLogin(t *testing.T, iss *Issuer) oauth.TokenSet {
	t.Helper()
	const redirect = "http://localhost:1455/auth/callback" // never contacted
	verifier := oauth2.GenerateVerifier()
	ts, err := iss.Exchange(t.Context(), openaiAuthorize(t, iss, redirect, verifier), verifier, redirect)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return ts
}

func openaiEmail(t *testing.T, ts oauth.TokenSet) string {
	t.Helper()
	c, err := store.ParseIDToken(ts.IDToken)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	return c.Email
}

func TestOpenAILocalBrowserLogin(t *testing.T) {
	_, iss := openaiLocal(t, localissuer.Config{Users: []localissuer.User{{Email: "ada@example.com"}}})
	ts := openaiLogin(t, iss)
	if ts.AccessToken == "" || ts.RefreshToken == "" {
		t.Errorf("tokens missing: access %v, refresh %v", ts.AccessToken != "", ts.RefreshToken != "")
	}
	if got := openaiEmail(t, ts); got != "ada@example.com" {
		t.Errorf("ID token email = %q, want ada@example.com", got)
	}
	key, err := iss.ExchangeAPIKey(t.Context(), ts.IDToken)
	if err != nil || key == "" {
		t.Errorf("ExchangeAPIKey = (key set %v, %v), want a key", key != "", err)
	}

	t.Run("wrong verifier", func(t *testing.T) {
		const redirect = "http://localhost:1455/auth/callback"
		code := openaiAuthorize(t, iss, redirect, oauth2.GenerateVerifier())
		_, err := iss.Exchange(t.Context(), code, oauth2.GenerateVerifier(), redirect)
		openaiErrCheck{issuer: &oauth.IssuerError{Status: 400, Code: "invalid_grant"}, permanent: true}.checkCode(t, err)
	})
}

func TestOpenAILocalRefresh(t *testing.T) {
	_, iss := openaiLocal(t, localissuer.Config{})
	first := openaiLogin(t, iss)
	second, err := iss.Refresh(t.Context(), first.RefreshToken, oauth.RefreshProactive)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatalf("Refresh did not rotate: new refresh token set %v, differs %v; access token set %v",
			second.RefreshToken != "", second.RefreshToken != first.RefreshToken, second.AccessToken != "")
	}
	// Redeeming the old token again is reuse: permanent, and it kills the family.
	_, err = iss.Refresh(t.Context(), first.RefreshToken, oauth.RefreshProactive)
	openaiErrCheck{issuer: &oauth.IssuerError{Status: 401, Code: "refresh_token_reused"}, permanent: true}.checkCode(t, err)
	_, err = iss.Refresh(t.Context(), second.RefreshToken, oauth.RefreshProactive)
	openaiErrCheck{issuer: &oauth.IssuerError{Status: 401}, permanent: true}.checkCode(t, err)
}

func TestOpenAILocalRevoke(t *testing.T) {
	_, iss := openaiLocal(t, localissuer.Config{})
	ts := openaiLogin(t, iss)
	if err := iss.Revoke(t.Context(), ts.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	_, err := iss.Refresh(t.Context(), ts.RefreshToken, oauth.RefreshProactive)
	openaiErrCheck{issuer: &oauth.IssuerError{Status: 401}, permanent: true}.checkCode(t, err)
	if err := iss.Revoke(t.Context(), "never-issued", "refresh_token"); err != nil {
		t.Errorf("Revoke of an unknown token: %v, want success (RFC 7009 section 2.2)", err)
	}
}

// TestOpenAILocalFaults: the local issuer's faults on the refresh path
// come out as the right kind of error.
func TestOpenAILocalFaults(t *testing.T) {
	tests := []struct {
		fault localissuer.Fault
		want  openaiErrCheck
	}{
		{localissuer.Fault{Kind: localissuer.FaultStatus, Status: 503}, openaiErrCheck{unavailable: true}},
		{localissuer.Fault{Kind: localissuer.FaultDrop}, openaiErrCheck{unavailable: true}},
		{localissuer.Fault{Kind: localissuer.FaultTruncate}, openaiErrCheck{unavailable: true}},
		{localissuer.Fault{Kind: localissuer.FaultMalformed}, openaiErrCheck{invalid: true}},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault.Kind), func(t *testing.T) {
			srv, iss := openaiLocal(t, localissuer.Config{})
			ts := openaiLogin(t, iss)
			tt.fault.Path, tt.fault.Count = "/oauth/token", 1
			if err := srv.SetFaults(localissuer.Faults{tt.fault}); err != nil {
				t.Fatal(err)
			}
			_, err := iss.Refresh(t.Context(), ts.RefreshToken, oauth.RefreshProactive)
			tt.want.check(t, err)
		})
	}
	t.Run("missing fields on exchange", func(t *testing.T) {
		srv, iss := openaiLocal(t, localissuer.Config{})
		if err := srv.SetFaults(localissuer.Faults{{Kind: localissuer.FaultMissingFields, Grant: "authorization_code",
			Fields: []string{"id_token"}}}); err != nil {
			t.Fatal(err)
		}
		const redirect = "http://localhost:1455/auth/callback"
		verifier := oauth2.GenerateVerifier()
		_, err := iss.Exchange(t.Context(), openaiAuthorize(t, iss, redirect, verifier), verifier, redirect)
		openaiErrCheck{invalid: true}.check(t, err)
	})
	t.Run("hang with a short client timeout", func(t *testing.T) {
		srv, _ := openaiLocal(t, localissuer.Config{Faults: localissuer.Faults{{Kind: localissuer.FaultHang}}})
		iss := openaiNew(t, srv.BaseURL(), 100*time.Millisecond)
		_, err := iss.DeviceStart(t.Context())
		openaiErrCheck{unavailable: true}.check(t, err)
	})
}

// TestOpenAINoRedirects: a 3xx from the issuer is never followed (the
// request carries a refresh token, a code verifier or an ID token; a 307
// or 308 would re-send it, to any host, over plain http too), whatever
// the HTTP client's own redirect policy; it is oauth.ErrIssuerRedirect, which
// is also oauth.ErrIssuerUnavailable (-32012).
func TestOpenAINoRedirects(t *testing.T) {
	var stolen atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id_token":"x","access_token":"y","refresh_token":"z","device_auth_id":"d","user_code":"u","interval":"5","authorization_code":"c","code_challenge":"cc","code_verifier":"v"}`)
	}))
	defer elsewhere.Close()
	calls := map[string]func(context.Context, *Issuer) error{
		"refresh": func(ctx context.Context, iss *Issuer) error {
			_, err := iss.Refresh(ctx, "rt-old", oauth.RefreshProactive)
			return err
		},
		"exchange": func(ctx context.Context, iss *Issuer) error {
			_, err := iss.Exchange(ctx, "code", "the-verifier", "http://localhost:1455/auth/callback")
			return err
		},
		"api key": func(ctx context.Context, iss *Issuer) error {
			_, err := iss.ExchangeAPIKey(ctx, "idt")
			return err
		},
		"revoke":       func(ctx context.Context, iss *Issuer) error { return iss.Revoke(ctx, "rt", "refresh_token") },
		"device start": func(ctx context.Context, iss *Issuer) error { _, err := iss.DeviceStart(ctx); return err },
		"device poll": func(ctx context.Context, iss *Issuer) error {
			_, err := iss.DevicePoll(ctx, oauth.DeviceCode{DeviceAuthID: "da", UserCode: "UC"})
			return err
		},
	}
	for _, status := range []int{301, 302, 303, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, status)
		}))
		// A plain client: it follows redirects by default.
		iss, err := New(Config{Issuer: redirector.URL, HTTP: &http.Client{Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		for name, call := range calls {
			err := call(t.Context(), iss)
			if !errors.Is(err, oauth.ErrIssuerRedirect) || !errors.Is(err, oauth.ErrIssuerUnavailable) {
				t.Errorf("%s answered %d: error %v, want oauth.ErrIssuerRedirect and oauth.ErrIssuerUnavailable", name, status, err)
			}
		}
		redirector.Close()
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("%d requests followed a redirect to another host", n)
	}
}
