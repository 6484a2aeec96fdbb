package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/session/openai"
	"github.com/codex-auth/codex-auth/store"
)

// The device flow against the local issuer through OpenAI's client.

// openaiLocal starts a local issuer and an Issuer pointed at it.
func openaiLocal(t *testing.T, cfg localissuer.Config) (*localissuer.Server, *openai.Issuer) {
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

// openaiPollSignal wraps h and closes the channel once the n-th device
// poll has arrived (before it is answered).
func openaiPollSignal(h http.Handler, n int) (http.Handler, <-chan struct{}) {
	reached := make(chan struct{})
	var mu sync.Mutex
	polls := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/accounts/deviceauth/token" {
			mu.Lock()
			polls++
			if polls == n {
				close(reached)
			}
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}), reached
}

// openaiGuard fails the test when ch yields nothing for a long time: a
// guard against a hang, never what makes a test pass.
func openaiGuard[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	guard := time.NewTimer(20 * time.Second)
	defer guard.Stop()
	select {
	case v := <-ch:
		return v
	case <-guard.C:
		t.Fatalf("%s: still waiting after 20s", what)
		panic("unreachable")
	}
}

func TestOpenAILocalDevice(t *testing.T) {
	tests := []struct {
		name    string
		decide  func(srv *localissuer.Server, userCode string) error
		wantErr error // nil: success
	}{
		{"pending then approved", (*localissuer.Server).ApproveDevice, nil},
		{"denied", (*localissuer.Server).DenyDevice, ErrDeviceDenied},
		{"expired", func(srv *localissuer.Server, _ string) error { srv.Advance(16 * time.Minute); return nil }, ErrDeviceExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := localissuer.New(localissuer.Config{Users: []localissuer.User{{Email: "dev@example.com"}}})
			if err != nil {
				t.Fatal(err)
			}
			// The 3rd poll: one by hand below, one by the flow that must be
			// pending, then the one the decision is for (or a later one).
			h, polled := openaiPollSignal(srv.Handler(), 3)
			hs := httptest.NewServer(h)
			defer hs.Close()
			iss := openaiNew(t, hs.URL, 5*time.Second)

			dc, err := iss.DeviceStart(t.Context())
			if err != nil {
				t.Fatalf("DeviceStart: %v", err)
			}
			if dc.VerificationURL != hs.URL+"/codex/device" || dc.Interval != 5*time.Second || dc.UserCode == "" || dc.DeviceAuthID == "" {
				t.Errorf("DeviceStart = {URL %q, interval %v, code set %v, id set %v}, want %s/codex/device, 5s, set, set",
					dc.VerificationURL, dc.Interval, dc.UserCode != "", dc.DeviceAuthID != "", hs.URL)
			}
			if _, err := iss.DevicePoll(t.Context(), dc); !errors.Is(err, ErrDevicePending) {
				t.Fatalf("first DevicePoll = %v, want ErrDevicePending", err)
			}
			// Poll fast in real time: the wait itself is tested in virtual time.
			dc.Interval = 5 * time.Millisecond
			type result struct {
				ts  TokenSet
				err error
			}
			done := make(chan result, 1)
			go func() {
				ts, err := runDeviceFlow(t.Context(), iss, dc, deviceOptions{})
				done <- result{ts, err}
			}()
			openaiGuard(t, "the flow's second poll", polled)
			if err := tt.decide(srv, dc.UserCode); err != nil {
				t.Fatal(err)
			}
			r := openaiGuard(t, "runDeviceFlow", done)
			if tt.wantErr != nil {
				if !errors.Is(r.err, tt.wantErr) || !errors.Is(r.err, ErrLoginFailed) {
					t.Errorf("runDeviceFlow error = %v, want %v", r.err, tt.wantErr)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("runDeviceFlow: %v", r.err)
			}
			if got := openaiEmail(t, r.ts); got != "dev@example.com" {
				t.Errorf("signed in as %q, want dev@example.com", got)
			}
			if got := srv.Stats(); got.DeviceApprovals != 1 || got.CodesRedeemed != 1 {
				t.Errorf("issuer stats: %d approvals, %d codes redeemed; want 1 and 1", got.DeviceApprovals, got.CodesRedeemed)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		_, iss := openaiLocal(t, localissuer.Config{DeviceDisabled: true})
		_, err := iss.DeviceStart(t.Context())
		if !errors.Is(err, ErrDeviceCodeDisabled) {
			t.Errorf("DeviceStart error = %v, want ErrDeviceCodeDisabled", err)
		}
	})
	t.Run("cancel mid-poll", func(t *testing.T) {
		srv, err := localissuer.New(localissuer.Config{})
		if err != nil {
			t.Fatal(err)
		}
		h, polled := openaiPollSignal(srv.Handler(), 1)
		hs := httptest.NewServer(h)
		defer hs.Close()
		defer srv.Close() // ends the hung request before hs.Close waits for it
		iss := openaiNew(t, hs.URL, time.Hour)
		dc, err := iss.DeviceStart(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SetFaults(localissuer.Faults{{Kind: localissuer.FaultHang, Path: "/api/accounts/deviceauth/token"}}); err != nil {
			t.Fatal(err)
		}
		dc.Interval = time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := runDeviceFlow(ctx, iss, dc, deviceOptions{})
			done <- err
		}()
		openaiGuard(t, "the first poll", polled)
		cancel()
		// With an hour-long client timeout, only the cancellation can end the poll.
		if err := openaiGuard(t, "runDeviceFlow after cancel", done); !errors.Is(err, context.Canceled) {
			t.Errorf("runDeviceFlow error = %v, want context.Canceled", err)
		}
	})
}

func openaiNew(t *testing.T, base string, timeout time.Duration) *openai.Issuer {
	t.Helper()
	iss, err := openai.New(openai.Config{Issuer: base, HTTP: &http.Client{Timeout: timeout}})
	if err != nil {
		t.Fatalf("openai.New(%q): %v", base, err)
	}
	return iss
}

func openaiEmail(t *testing.T, ts TokenSet) string {
	t.Helper()
	c, err := store.ParseIDToken(ts.IDToken)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	return c.Email
}
