package oidc_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/session/oidc"
)

// stubOP is a provider whose answers a test sets, for behaviour the real
// one cannot be made to show (an endpoint that moves, a refresh that does
// not rotate, malformed answers).
type stubOP struct {
	*httptest.Server
	mu        sync.Mutex
	tokenPath string
	token     func(w http.ResponseWriter, r *http.Request)
	hits      map[string]int
}

func startStub(t *testing.T) *stubOP {
	s := &stubOP{tokenPath: "/token", hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		tokenPath, token := s.tokenPath, s.token
		s.mu.Unlock()
		switch r.URL.Path {
		case oidc.WellKnown:
			json.NewEncoder(w).Encode(map[string]any{
				"issuer": s.URL, "authorization_endpoint": s.URL + "/authorize",
				"token_endpoint": s.URL + tokenPath, "jwks_uri": s.URL + "/keys",
			})
		case tokenPath:
			token(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stubOP) set(f func(*stubOP)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *stubOP) hit(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TestRefreshWithoutRotation: a provider that does not rotate gives no
// refresh_token; the one redeemed is kept (RFC 6749 section 6).
func TestRefreshWithoutRotation(t *testing.T) {
	s := startStub(t)
	s.set(func(s *stubOP) {
		s.token = func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "rt-old" || r.PostForm.Get("client_id") != "app" {
				writeJSON(w, 400, map[string]string{"error": "invalid_request"})
				return
			}
			writeJSON(w, 200, map[string]any{"access_token": "at-2", "token_type": "Bearer", "expires_in": 60})
		}
	})
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: s.URL, ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.Refresh(t.Context(), "rt-old", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "rt-old" || tok.AccessToken != "at-2" || tok.IDToken != "" || tok.Claims != nil {
		t.Errorf("tokens = %+v, want at-2, the old refresh token kept, no ID token", tok)
	}
	if d := time.Until(tok.Expiry); d <= 0 || d > time.Minute {
		t.Errorf("expiry in %v, want about a minute", d)
	}
}

// TestEndpointMoved: a token endpoint that answers 404 makes the provider
// fetch discovery again and retry at the new endpoint, once; a failure
// of another kind keeps the cached document.
func TestEndpointMoved(t *testing.T) {
	s := startStub(t)
	ok := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"access_token": "at", "token_type": "Bearer"})
	}
	s.set(func(s *stubOP) { s.token = ok })
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: s.URL, ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	s.set(func(s *stubOP) { s.tokenPath = "/v2/token" })
	if _, err := p.Refresh(t.Context(), "rt", ""); err != nil {
		t.Fatalf("Refresh after the endpoint moved: %v", err)
	}
	if n := s.hit(oidc.WellKnown); n != 2 {
		t.Errorf("discovery fetched %d times, want 2", n)
	}
	if got := p.Metadata().TokenEndpoint; got != s.URL+"/v2/token" {
		t.Errorf("token endpoint = %s, want the new one", got)
	}

	// A 503 is not a move: no discovery, and the error says unavailable.
	s.set(func(s *stubOP) {
		s.token = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 503, map[string]string{"error": "temporarily_unavailable"})
		}
	})
	_, err = p.Refresh(t.Context(), "rt", "")
	var pe *oidc.ProviderError
	if !errors.Is(err, oidc.ErrUnavailable) || !errors.As(err, &pe) || pe.Status != 503 || pe.Permanent() {
		t.Errorf("Refresh on a 503 = %v, want a transient ProviderError", err)
	}
	if n := s.hit(oidc.WellKnown); n != 2 {
		t.Errorf("discovery fetched %d times after a 503, want still 2", n)
	}
}

// TestBadAnswers: success answers that cannot be used.
func TestBadAnswers(t *testing.T) {
	s := startStub(t)
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: s.URL, ClientID: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]func(w http.ResponseWriter, r *http.Request){
		"not JSON": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) },
		"no access token": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"token_type": "Bearer"})
		},
		"too large": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"`))
			w.Write(make([]byte, 2<<20))
		},
	} {
		s.set(func(s *stubOP) { s.token = h })
		_, err := p.Refresh(t.Context(), "rt-secret", "")
		if !errors.Is(err, oidc.ErrInvalidResponse) || errors.Is(err, oidc.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrInvalidResponse only", name, err)
		}
	}

	// Discovery itself: a document without jwks_uri, or over plain http
	// off loopback, is refused.
	var issuer string
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{
			"issuer": issuer, "authorization_endpoint": "http://id.example.com/authorize",
			"token_endpoint": issuer + "/token",
		})
	}))
	defer bad.Close()
	issuer = bad.URL
	if _, err := oidc.New(t.Context(), oidc.Config{Issuer: issuer, ClientID: "app"}); !errors.Is(err, oidc.ErrInvalidResponse) {
		t.Errorf("New with a bad document = %v, want ErrInvalidResponse", err)
	}
}
