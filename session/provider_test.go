package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/session/oidc"
	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

func testProvider(t *testing.T) *OIDCProvider {
	t.Helper()
	// Nothing listens on port 1: a provider down, discovered never.
	p, err := NewOIDCProvider("corp", oidc.Config{Issuer: "http://127.0.0.1:1", ClientID: "app", HTTP: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testProviderRecord() *store.Record {
	return store.NewOIDCRecord(store.OIDCInfo{Provider: "corp", Issuer: "http://127.0.0.1:1", ClientID: "app", Subject: "u1", Email: "u1@example.com",
		ExpiresAt: time.Now().Add(time.Hour)}, "idt", "access-1", "refresh-1")
}

// TestProviderAllowedProviders: allowed_providers without the provider
// refuses its logins and logs out its stored record (policyViolation),
// leaving Codex's record alone.
func TestProviderAllowedProviders(t *testing.T) {
	home := store.Home{Dir: t.TempDir()}
	ctx := t.Context()
	st, err := store.OpenProvider(home, "corp", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	codex, err := store.Open(home, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Replace(ctx, testProviderRecord()); err != nil {
		t.Fatal(err)
	}
	if err := codex.Replace(ctx, store.NewAPIKeyRecord("sk-codex-0123456789")); err != nil {
		t.Fatal(err)
	}
	cfg := store.Config{AllowedProviders: []string{"other"}}
	rec := newRecorder()
	m, err := New(Options{Store: st, Provider: testProvider(t), Editor: rec, DisableWatch: true,
		ConfigReload: func() (store.Config, error) { return cfg, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	inv := ofType[Invalidation](rec.all())
	if len(inv) != 1 || inv[0].Reason != ReasonPolicyViolation || !strings.Contains(inv[0].Message, `"corp" is not allowed`) {
		t.Errorf("invalidations = %+v", inv)
	}
	if r, err := st.Load(ctx); r != nil || err != nil {
		t.Errorf("the provider's record after the violation: %v, %v", r, err)
	}
	if r, err := codex.Load(ctx); err != nil || r == nil || r.EffectiveMode() != store.AuthModeAPIKey {
		t.Errorf("Codex's record: %v, %v", r, err)
	}
	var pe *PolicyError
	if _, err := m.StartBrowserLogin(ctx); !errors.As(err, &pe) {
		t.Errorf("browser login = %v, want a PolicyError", err)
	}
	if _, err := m.StartDeviceLogin(ctx); !errors.As(err, &pe) {
		t.Errorf("device login = %v, want a PolicyError", err)
	}
	st2, _ := m.Status(ctx, false)
	if st2.Account != nil || !strings.Contains(st2.Problem, "not allowed") || st2.Policy.ForcedLoginMethod != "" {
		t.Errorf("Status = %+v", st2)
	}
}

// TestProviderRecordsKeptApart: a provider's Manager serves only a
// provider's record and Codex's Manager only Codex's (a record in the
// wrong place is unsupported, never sent anywhere); API-key and
// access-token logins are Codex's.
func TestProviderRecordsKeptApart(t *testing.T) {
	ctx := t.Context()
	t.Run("Codex's record in the provider's place", func(t *testing.T) {
		st, _ := store.OpenProvider(store.Home{Dir: t.TempDir()}, "corp", store.Options{Mode: store.ModeEphemeral})
		if err := st.Replace(ctx, store.NewAPIKeyRecord("sk-codex-0123456789")); err != nil {
			t.Fatal(err)
		}
		m, err := New(Options{Store: st, Provider: testProvider(t), DisableWatch: true})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		_ = m.Start(ctx)
		if _, err := m.Token(ctx, false); !errors.Is(err, ErrUnsupportedRecord) {
			t.Errorf("Token = %v, want ErrUnsupportedRecord", err)
		}
		if err := m.LoginAPIKey(ctx, "sk-new-0123456789"); !errors.Is(err, ErrProviderLoginType) {
			t.Errorf("LoginAPIKey = %v", err)
		}
		if err := m.LoginAccessToken(ctx, "at-0123456789"); !errors.Is(err, ErrProviderLoginType) {
			t.Errorf("LoginAccessToken = %v", err)
		}
	})
	t.Run("a provider's record in Codex's place", func(t *testing.T) {
		st, _ := store.Open(store.Home{Dir: t.TempDir()}, store.Options{Mode: store.ModeEphemeral})
		if err := st.Replace(ctx, testProviderRecord()); err != nil {
			t.Fatal(err)
		}
		iss, err := openai.New(openai.Config{Issuer: "http://127.0.0.1:1", HTTP: &http.Client{Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(Options{Store: st, Issuer: iss, DisableWatch: true})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		_ = m.Start(ctx)
		if _, err := m.Token(ctx, true); !errors.Is(err, ErrUnsupportedRecord) {
			t.Errorf("Token = %v, want ErrUnsupportedRecord", err)
		}
		if s, _ := m.Status(ctx, true); s.Account != nil || s.Problem == "" {
			t.Errorf("Status = %+v", s)
		}
	})
}

// TestProviderDownRefresh: a refresh the provider cannot answer is
// ErrIssuerUnavailable, and the access token still valid is served.
func TestProviderDownRefresh(t *testing.T) {
	ctx := t.Context()
	st, _ := store.OpenProvider(store.Home{Dir: t.TempDir()}, "corp", store.Options{Mode: store.ModeEphemeral})
	if err := st.Replace(ctx, testProviderRecord()); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Store: st, Provider: testProvider(t), DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.Token(cctx, true); !errors.Is(err, ErrIssuerUnavailable) {
		t.Errorf("forced refresh = %v, want ErrIssuerUnavailable", err)
	}
	if tok, err := m.Token(cctx, false); err != nil || tok.AccessToken != "access-1" {
		t.Errorf("Token = %+v, %v", tok, err)
	}
}
