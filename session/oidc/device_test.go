package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/oidctest"
	"github.com/codex-auth/codex-auth/session/oidc"
)

// TestDeviceGrant runs RFC 8628 against the real provider: the user
// approves (or denies) the code on the provider's pages while the app
// polls. The provider's interval is 5 s, so each case waits that long;
// they run in parallel.
func TestDeviceGrant(t *testing.T) {
	srv := oidctest.Start(t)
	p := newProvider(t, srv, oidctest.PublicClient, "")
	for _, tc := range []struct {
		name    string
		approve bool
	}{{"approved", true}, {"denied", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dc, err := p.DeviceStart(t.Context())
			if err != nil {
				t.Fatalf("DeviceStart: %v", err)
			}
			if dc.UserCode == "" || !strings.HasPrefix(dc.VerificationURI, srv.URL+"/") || dc.Interval != 5*time.Second || dc.Expiry.IsZero() {
				t.Fatalf("device code = %+v", dc)
			}
			type result struct {
				tok oidc.Tokens
				err error
			}
			done := make(chan result, 1)
			go func() {
				tok, err := p.DeviceWait(t.Context(), dc)
				done <- result{tok, err}
			}()
			b := oidctest.NewBrowser()
			act := b.ApproveDevice
			if !tc.approve {
				act = b.DenyDevice
			}
			if err := act(t.Context(), dc.VerificationURI, dc.UserCode, oidctest.Username, oidctest.Password); err != nil {
				t.Fatalf("the user on the device page: %v", err)
			}
			r := <-done
			if !tc.approve {
				wantIs(t, r.err, oidc.ErrDeviceDenied)
				wantCode(t, r.err, "access_denied")
				return
			}
			if r.err != nil {
				t.Fatalf("DeviceWait: %v", r.err)
			}
			if r.tok.AccessToken == "" || r.tok.RefreshToken == "" || r.tok.Claims == nil || r.tok.Claims.Subject != oidctest.UserID {
				t.Fatalf("tokens: access %t, refresh %t, claims %+v", r.tok.AccessToken != "", r.tok.RefreshToken != "", r.tok.Claims)
			}
			if _, err := p.Refresh(t.Context(), r.tok.RefreshToken, r.tok.Claims.Subject); err != nil {
				t.Errorf("Refresh after the device grant: %v", err)
			}
		})
	}
}

var fakeKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// TestDevicePollingVirtualTime checks the intervals of RFC 8628 section
// 3.5 in virtual time: authorization_pending keeps the interval,
// slow_down adds 5 s for the rest of the flow (also across a network
// failure or a 503, after which polling goes on), and access_denied,
// expired_token and the code's expiry end the flow.
func TestDevicePollingVirtualTime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		script    []string
		expiresIn int
		wantGaps  []int // seconds from the start, then between polls
		wantErr   error
		wantEnd   int // seconds from the start when DeviceWait returned
	}{
		{
			name:     "slow_down for the rest of the flow",
			script:   []string{"pending", "slow_down", "pending", "pending", "ok"},
			wantGaps: []int{5, 5, 10, 10, 10}, wantEnd: 40,
		},
		{
			name:     "slow_down kept across failures",
			script:   []string{"pending", "slow_down", "neterr", "503", "pending", "slow_down", "ok"},
			wantGaps: []int{5, 5, 10, 10, 10, 10, 15}, wantEnd: 65,
		},
		{
			name:     "access_denied",
			script:   []string{"pending", "denied"},
			wantGaps: []int{5, 5}, wantErr: oidc.ErrDeviceDenied, wantEnd: 10,
		},
		{
			name:     "expired_token",
			script:   []string{"slow_down", "expired"},
			wantGaps: []int{5, 10}, wantErr: oidc.ErrDeviceExpired, wantEnd: 15,
		},
		{
			name:      "expires_in passes",
			script:    nil, // pending forever
			expiresIn: 12,
			wantGaps:  []int{5, 5}, wantErr: oidc.ErrDeviceExpired, wantEnd: 12,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if tc.expiresIn == 0 {
					tc.expiresIn = 600
				}
				f := oidctest.NewMemoryOP("https://id.example.com", fakeKey(), tc.expiresIn, tc.script...)
				p, err := oidc.New(t.Context(), oidc.Config{
					Issuer: f.Issuer(), ClientID: "app",
					HTTP: &http.Client{Transport: f, Timeout: 30 * time.Second},
				})
				if err != nil {
					t.Fatal(err)
				}
				dc, err := p.DeviceStart(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				tok, err := p.DeviceWait(t.Context(), dc)
				end := int(time.Since(start) / time.Second)
				if tc.wantErr != nil {
					wantIs(t, err, tc.wantErr)
				} else if err != nil || tok.AccessToken != "mem-access" || tok.Claims.Subject != "u1" {
					t.Fatalf("DeviceWait = %+v, %v", tok, err)
				}
				var gaps []int
				prev := start
				for _, at := range f.Polls() {
					gaps = append(gaps, int(at.Sub(prev)/time.Second))
					prev = at
				}
				if diff := cmp.Diff(tc.wantGaps, gaps); diff != "" {
					t.Errorf("poll intervals in seconds (-want +got):\n%s", diff)
				}
				if end != tc.wantEnd {
					t.Errorf("DeviceWait returned after %d s, want %d", end, tc.wantEnd)
				}
			})
		})
	}
}

// TestDeviceWaitCanceled: the caller's context ends the wait at once.
func TestDeviceWaitCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := oidctest.NewMemoryOP("https://id.example.com", fakeKey(), 600)
		p, err := oidc.New(t.Context(), oidc.Config{Issuer: f.Issuer(), ClientID: "app", HTTP: &http.Client{Transport: f, Timeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		dc, err := p.DeviceStart(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 12*time.Second)
		defer cancel()
		_, err = p.DeviceWait(ctx, dc)
		wantIs(t, err, context.DeadlineExceeded)
		if errors.Is(err, oidc.ErrDeviceExpired) {
			t.Errorf("the caller's deadline reported as the code's expiry: %v", err)
		}
		if n := len(f.Polls()); n != 2 {
			t.Errorf("%d polls in 12 s, want 2", n)
		}
	})
}
