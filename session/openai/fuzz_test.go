package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/session/oauth"
)

// answerTransport answers every request with one status, content type and
// body, without a socket (fuzzing goes through millions of them).
type answerTransport struct {
	status      int
	contentType string
	body        []byte
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	h := http.Header{}
	if a.contentType != "" {
		h.Set("Content-Type", a.contentType)
	}
	return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// The secrets each call sends: no error may repeat them.
const (
	fuzzCode     = "code-SECRET-0123456789"
	fuzzVerifier = "verifier-SECRET-0123456789"
	fuzzRefresh  = "rt-SECRET-0123456789"
	fuzzIDToken  = "idtoken-SECRET-0123456789"
	fuzzPAT      = "at-SECRET-0123456789"
)

// FuzzIssuerAnswers gives every OpenAI endpoint the same arbitrary answer
// (status, content type, body) and checks what the issuer client makes of
// it: never a panic; an error of the kind the status calls for
// (unavailable for 5xx and 429, a redirect never followed, an
// *oauth.IssuerError or the endpoint's own meaning for other 4xx, an
// invalid response for a 2xx that is not what was asked); a success only
// with every field the endpoint requires; and no error that repeats a
// secret the request carried, or grows with the body.
func FuzzIssuerAnswers(f *testing.F) {
	seeds := []struct {
		status int
		ct     string
		body   string
	}{
		{200, "application/json", `{"id_token":"i","access_token":"a","refresh_token":"r"}`},
		{200, "application/json", `{"access_token":"sk-x"}`},
		{200, "application/json", `{"device_auth_id":"d","user_code":"ABCD-EFGH","interval":"5"}`},
		{200, "application/json", `{"device_auth_id":"d","usercode":"ABCD","interval":5}`},
		{200, "application/json", `{"authorization_code":"c","code_verifier":"v"}`},
		{200, "application/json", `{"email":"a@b.c","chatgpt_user_id":"u","chatgpt_account_id":"w","chatgpt_plan_type":"plus"}`},
		{200, "text/html", `<html><body>Sign in</body></html>`},
		{200, "application/json", `{"id_token":"i"`},
		{400, "application/json", `{"error":"invalid_grant","error_description":"bad"}`},
		{401, "application/json", `{"error":{"code":"refresh_token_reused","message":"reused"}}`},
		{403, "application/json", `{"code":"x","message":"y"}`},
		{404, "text/plain", `not found`},
		{429, "", ``},
		{502, "text/html", `<h1>Bad gateway</h1>`},
		{307, "", ``},
		{200, "application/json", strings.Repeat(`{"a":`, 1000)},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		hc := &http.Client{Timeout: time.Minute, Transport: answerTransport{status, ct, body}}
		iss, err := New(Config{Issuer: "https://issuer.example", HTTP: hc})
		if err != nil {
			t.Fatal(err)
		}
		api, err := NewAuthAPI("https://issuer.example/api/accounts", hc)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		check := func(op string, err error, ok func() bool, meaning ...error) {
			t.Helper()
			if err == nil {
				if status < 200 || status > 299 {
					t.Fatalf("%s: success on HTTP %d", op, status)
				}
				if !ok() {
					t.Fatalf("%s: success without a required field", op)
				}
				return
			}
			msg := err.Error()
			for _, s := range []string{fuzzCode, fuzzVerifier, fuzzRefresh, fuzzIDToken, fuzzPAT} {
				if strings.Contains(msg, s) {
					t.Fatalf("%s: the error repeats a secret the request carried: %q", op, msg)
				}
			}
			if len(msg) > 400 {
				t.Fatalf("%s: an error of %d bytes (bounded messages only)", op, len(msg))
			}
			for _, m := range meaning {
				if errors.Is(err, m) {
					return
				}
			}
			var ie *oauth.IssuerError
			switch {
			case status >= 500 || status == http.StatusTooManyRequests:
				if !errors.Is(err, oauth.ErrIssuerUnavailable) {
					t.Fatalf("%s: HTTP %d gave %v, want issuer unavailable", op, status, err)
				}
			case status >= 300 && status <= 399:
				if !errors.Is(err, oauth.ErrIssuerRedirect) || !errors.Is(err, oauth.ErrIssuerUnavailable) {
					t.Fatalf("%s: HTTP %d gave %v, want a redirect not followed", op, status, err)
				}
			case status >= 200 && status <= 299:
				if !errors.Is(err, oauth.ErrInvalidResponse) {
					t.Fatalf("%s: HTTP %d gave %v, want an invalid response", op, status, err)
				}
			case !errors.As(err, &ie) || ie.Status != status:
				t.Fatalf("%s: HTTP %d gave %v, want an *oauth.IssuerError with that status", op, status, err)
			}
		}

		ts, err := iss.Exchange(ctx, fuzzCode, fuzzVerifier, "http://localhost:1455/auth/callback")
		check("exchange", err, func() bool { return ts.IDToken != "" && ts.AccessToken != "" && ts.RefreshToken != "" })
		_, err = iss.Refresh(ctx, fuzzRefresh, oauth.RefreshForced)
		check("refresh", err, func() bool { return true }) // each token is optional
		key, err := iss.ExchangeAPIKey(ctx, fuzzIDToken)
		check("API key exchange", err, func() bool { return key != "" })
		err = iss.Revoke(ctx, fuzzRefresh, "refresh_token")
		check("revoke", err, func() bool { return true })
		dc, err := iss.DeviceStart(ctx)
		check("device start", err, func() bool {
			return dc.DeviceAuthID != "" && dc.UserCode != "" && dc.Interval >= 0 && dc.Interval <= time.Hour
		}, oauth.ErrDeviceCodeDisabled)
		if status == http.StatusNotFound && !errors.Is(err, oauth.ErrDeviceCodeDisabled) {
			t.Fatalf("device start: 404 gave %v, want device code disabled", err)
		}
		dg, err := iss.DevicePoll(ctx, oauth.DeviceCode{DeviceAuthID: "d", UserCode: "u"})
		check("device poll", err, func() bool { return dg.AuthorizationCode != "" && dg.CodeVerifier != "" }, oauth.ErrDevicePending)
		info, err := api.Whoami(ctx, fuzzPAT)
		_ = info // its four fields are required in the answer, but may be ""
		check("whoami", err, func() bool { return true }, ErrAccessTokenRejected)
	})
}

// TestWhoamiRedirectNotFollowed: a redirect from the account API is
// neither followed (the request carries the token) nor taken for a
// rejection; found by FuzzIssuerAnswers (whoami turned a 307 into an
// *oauth.IssuerError, and followed redirects its client followed).
func TestWhoamiRedirectNotFollowed(t *testing.T) {
	followed := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed <- r.Header.Get("Authorization")
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	api, err := NewAuthAPI(srv.URL, &http.Client{Timeout: 10 * time.Second}) // a client that would follow
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Whoami(t.Context(), fuzzPAT)
	if !errors.Is(err, oauth.ErrIssuerRedirect) || !errors.Is(err, oauth.ErrIssuerUnavailable) {
		t.Errorf("whoami answered by a redirect: %v; want a redirect not followed (issuer unavailable)", err)
	}
	select {
	case <-followed:
		t.Errorf("the redirect was followed, with the token")
	default:
	}
}
