package oidctest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaultProxyIsTheIssuer: discovery through the proxy names the proxy
// as the issuer and every endpoint on it, at the paths the faults are
// armed on; the provider sees the request.
func TestFaultProxyIsTheIssuer(t *testing.T) {
	s, p := StartWithFaults(t)
	if s.URL != p.URL {
		t.Fatalf("issuer %s, proxy %s", s.URL, p.URL)
	}
	var doc map[string]any
	get(t, p.URL+PathDiscovery, &doc)
	if doc["issuer"] != p.URL {
		t.Errorf("issuer = %v, want %s", doc["issuer"], p.URL)
	}
	for k, path := range map[string]string{
		"jwks_uri": PathKeys, "token_endpoint": PathToken, "device_authorization_endpoint": PathDeviceAuthorization,
		"revocation_endpoint": PathRevoke, "userinfo_endpoint": PathUserinfo, "authorization_endpoint": PathAuthorize,
	} {
		if doc[k] != p.URL+path {
			t.Errorf("%s = %v, want %s", k, doc[k], p.URL+path)
		}
	}
	if s.Hits(PathDiscovery) != 1 {
		t.Errorf("the provider saw discovery %d times, want 1", s.Hits(PathDiscovery))
	}
}

// TestFaultProxyFaults: each kind does what it says, once per count, and
// only on its path; a forwarded kind reaches the provider, the others
// do not.
func TestFaultProxyFaults(t *testing.T) {
	s, p := StartWithFaults(t)
	hc := &http.Client{Timeout: 300 * time.Millisecond, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		f         Fault
		status    int
		ctype     string
		body      func(string) bool
		transport bool // a transport error, no answer
		forwarded bool
	}{
		{f: Fault{Kind: FaultLatency, Latency: 5 * time.Second}, transport: true},
		{f: Fault{Kind: FaultStatus}, status: 503, ctype: "application/json", body: contains("temporarily_unavailable")},
		{f: Fault{Kind: FaultReset}, transport: true},
		{f: Fault{Kind: FaultHTML, Status: 500}, status: 500, ctype: "text/html; charset=utf-8", body: contains("<html>")},
		{f: Fault{Kind: FaultRedirect}, status: 302, body: func(string) bool { return true }},
		{f: Fault{Kind: FaultTruncate}, transport: true, forwarded: true},
		{f: Fault{Kind: FaultMalformed}, status: 200, ctype: "application/json", body: func(b string) bool { return !json.Valid([]byte(b)) }, forwarded: true},
		{f: Fault{Kind: FaultContentType}, status: 200, ctype: "text/plain; charset=utf-8", body: contains(`"issuer"`), forwarded: true},
		{f: Fault{Kind: FaultMissingFields, Fields: []string{"issuer"}}, status: 200, ctype: "application/json", body: func(b string) bool {
			return json.Valid([]byte(b)) && !strings.Contains(b, `"issuer"`) && strings.Contains(b, `"jwks_uri"`)
		}, forwarded: true},
	} {
		t.Run(string(tc.f.Kind), func(t *testing.T) {
			f := tc.f
			f.Path, f.Count = PathDiscovery, 1
			p.Arm(f)
			hits := s.Hits(PathDiscovery)
			if _, err := hc.Get(p.URL + PathKeys); err != nil {
				t.Fatalf("another path: %v", err)
			}
			resp, err := hc.Get(p.URL + PathDiscovery)
			var b []byte
			if err == nil {
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if tc.transport {
				if err == nil {
					t.Fatalf("an answer (%d), want a transport error", resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status || (tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype) || !tc.body(string(b)) {
					t.Errorf("answer %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
				}
			}
			if got := s.Hits(PathDiscovery) - hits; (got == 1) != tc.forwarded {
				t.Errorf("the provider saw %d requests, forwarded %v", got, tc.forwarded)
			}
			if p.Armed() != 0 || p.Fired(PathKeys) != 0 {
				t.Errorf("armed %d, fired on another path %d", p.Armed(), p.Fired(PathKeys))
			}
			var doc map[string]any
			get(t, p.URL+PathDiscovery, &doc) // used up: the next one passes
		})
	}
	if p.RedirectsFollowed() != 0 {
		t.Errorf("redirects followed: %d", p.RedirectsFollowed())
	}
	if _, err := http.Get(p.URL + PathRedirected); err != nil || p.RedirectsFollowed() != 1 {
		t.Errorf("the redirect target: %v, counted %d", err, p.RedirectsFollowed())
	}
}

func contains(s string) func(string) bool {
	return func(b string) bool { return strings.Contains(b, s) }
}

func get(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
