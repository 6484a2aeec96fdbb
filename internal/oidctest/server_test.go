package oidctest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestDiscoveryDocument(t *testing.T) {
	s := Start(t)
	resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != s.URL {
		t.Errorf("issuer = %v, want %s", doc["issuer"], s.URL)
	}
	for _, k := range []string{"device_authorization_endpoint", "revocation_endpoint", "jwks_uri", "userinfo_endpoint"} {
		if v, _ := doc[k].(string); !strings.HasPrefix(v, s.URL) {
			t.Errorf("%s = %v", k, doc[k])
		}
	}
	if s.Hits("/.well-known/openid-configuration") != 1 {
		t.Errorf("hits = %d, want 1", s.Hits("/.well-known/openid-configuration"))
	}
}

// TestWrongPassword: the login page is shown again with the error; the
// browser never reaches the redirect.
func TestWrongPassword(t *testing.T) {
	s := Start(t)
	q := url.Values{
		"client_id": {PublicClient}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {"http://127.0.0.1:9/callback"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
	}
	pg, err := NewBrowser().Login(t.Context(), s.URL+"/auth?"+q.Encode(), Username, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	if pg.URL.Host != strings.TrimPrefix(s.URL, "http://") || !strings.Contains(pg.Body, "username or password wrong") {
		t.Errorf("ended on %s: %.200s", pg.URL, pg.Body)
	}
}

func TestApproveUnknownCode(t *testing.T) {
	s := Start(t)
	if err := NewBrowser().ApproveDevice(t.Context(), s.URL+"/device", "NOPE-NOPE", Username, Password); err == nil {
		t.Error("approving an unknown user code succeeded")
	}
}
