package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/session/openai"
)

// deviceAnswer is one scripted answer of the device token endpoint.
type deviceAnswer struct {
	status int
	body   string
	hang   bool // block until the request's context ends
}

var (
	devicePending   = deviceAnswer{status: 403, body: `{"error":"authorization_pending"}`}
	deviceApproved  = deviceAnswer{status: 200, body: `{"authorization_code":"ac-1","code_challenge":"x","code_verifier":"cv-1"}`}
	deviceDown      = deviceAnswer{status: 503, body: `unavailable`}
	deviceTestToken = `{"id_token":"idt","access_token":"at","refresh_token":"rt"}`
)

// deviceFake is an OpenAI-shaped issuer behind an in-memory transport. It
// answers polls from a script (the last answer repeats) and records when
// each poll came, in the bubble's virtual time.
type deviceFake struct {
	t      *testing.T
	start  time.Time
	script []deviceAnswer

	mu       sync.Mutex
	polls    []time.Duration // since start
	exchange url.Values
}

func (f *deviceFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/api/accounts/deviceauth/token":
		f.mu.Lock()
		n := len(f.polls)
		f.polls = append(f.polls, time.Since(f.start))
		f.mu.Unlock()
		a := f.script[min(n, len(f.script)-1)]
		if a.hang {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	case "/oauth/token":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			f.t.Errorf("exchange body: %v", err)
		}
		f.mu.Lock()
		f.exchange = v
		f.mu.Unlock()
		io.WriteString(w, deviceTestToken)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(500)
	}
}

func (f *deviceFake) pollTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.polls...)
}

// deviceRoundTripper serves requests with a handler in the caller's
// goroutine: no socket, so virtual time stays in charge.
type deviceRoundTripper struct{ h http.Handler }

func (rt deviceRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	rt.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// deviceSetup must run inside a synctest bubble.
func deviceSetup(t *testing.T, script ...deviceAnswer) (*deviceFake, *openai.Issuer) {
	f := &deviceFake{t: t, start: time.Now(), script: script}
	iss, err := openai.New(openai.Config{
		Issuer: "http://127.0.0.1:1",
		HTTP:   &http.Client{Timeout: 10 * time.Second, Transport: deviceRoundTripper{f}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, iss
}

func secs(s ...int) []time.Duration {
	d := make([]time.Duration, len(s))
	for i, n := range s {
		d[i] = time.Duration(n) * time.Second
	}
	return d
}

var deviceCode = DeviceCode{DeviceAuthID: "da-1", UserCode: "ABCD-1234", Interval: 5 * time.Second}

func TestDeviceFlowPolling(t *testing.T) {
	tests := []struct {
		name      string
		interval  time.Duration
		opts      deviceOptions
		script    []deviceAnswer
		wantPolls []time.Duration
	}{
		{"approved at once", 5 * time.Second, deviceOptions{},
			[]deviceAnswer{deviceApproved}, secs(5)},
		{"issuer interval honoured", 7 * time.Second, deviceOptions{},
			[]deviceAnswer{devicePending, devicePending, deviceApproved}, secs(7, 14, 21)},
		{"404 is pending too", 5 * time.Second, deviceOptions{},
			[]deviceAnswer{{status: 404}, deviceApproved}, secs(5, 10)},
		{"no interval: 5s", 0, deviceOptions{},
			[]deviceAnswer{devicePending, deviceApproved}, secs(5, 10)},
		{"MinInterval floors it", 1 * time.Second, deviceOptions{MinInterval: 3 * time.Second},
			[]deviceAnswer{devicePending, deviceApproved}, secs(3, 6)},
		{"backoff while unavailable, reset once answered", 5 * time.Second, deviceOptions{},
			[]deviceAnswer{deviceDown, deviceDown, deviceDown, devicePending, deviceApproved},
			secs(5, 15, 35, 75, 80)},
		{"backoff capped", 5 * time.Second, deviceOptions{MaxBackoff: 15 * time.Second},
			[]deviceAnswer{deviceDown, deviceDown, deviceDown, deviceApproved}, secs(5, 15, 30, 45)},
		{"slow_down adds 5s", 5 * time.Second, deviceOptions{},
			[]deviceAnswer{{status: 400, body: `{"error":"slow_down"}`}, devicePending, deviceApproved},
			secs(5, 15, 25)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, iss := deviceSetup(t, tt.script...)
				dc := deviceCode
				dc.Interval = tt.interval
				got, err := runDeviceFlow(t.Context(), iss, dc, tt.opts)
				if err != nil {
					t.Fatalf("runDeviceFlow: %v", err)
				}
				if diff := cmp.Diff(TokenSet{IDToken: "idt", AccessToken: "at", RefreshToken: "rt"}, got); diff != "" {
					t.Errorf("tokens (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantPolls, f.pollTimes()); diff != "" {
					t.Errorf("poll times (-want +got):\n%s", diff)
				}
				want := url.Values{
					"grant_type":    {"authorization_code"},
					"code":          {"ac-1"},
					"code_verifier": {"cv-1"},
					"redirect_uri":  {"http://127.0.0.1:1/deviceauth/callback"},
					"client_id":     {openai.DefaultClientID},
				}
				if diff := cmp.Diff(want, f.exchange); diff != "" {
					t.Errorf("code exchange (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestDeviceFlowFailures(t *testing.T) {
	tests := []struct {
		name      string
		opts      deviceOptions
		script    []deviceAnswer
		wantErr   error
		wantAfter time.Duration // virtual time until runDeviceFlow returned
	}{
		{"expires at the default limit", deviceOptions{}, []deviceAnswer{devicePending},
			ErrDeviceExpired, 15 * time.Minute},
		{"expires at a set limit", deviceOptions{Limit: 12 * time.Second}, []deviceAnswer{devicePending},
			ErrDeviceExpired, 12 * time.Second},
		{"limit ends a poll in flight", deviceOptions{Limit: 8 * time.Second}, []deviceAnswer{{hang: true}},
			ErrDeviceExpired, 8 * time.Second},
		{"unavailable until the limit", deviceOptions{Limit: 2 * time.Minute}, []deviceAnswer{deviceDown},
			ErrDeviceExpired, 2 * time.Minute},
		{"issuer says expired", deviceOptions{}, []deviceAnswer{devicePending, {status: 400, body: `{"error":"expired_token"}`}},
			ErrDeviceExpired, 10 * time.Second},
		{"denied", deviceOptions{}, []deviceAnswer{devicePending, {status: 400, body: `{"error":"access_denied"}`}},
			ErrDeviceDenied, 10 * time.Second},
		{"other refusal", deviceOptions{}, []deviceAnswer{{status: 400, body: `{"error":"invalid_request"}`}},
			ErrLoginFailed, 5 * time.Second},
		{"lying issuer", deviceOptions{}, []deviceAnswer{{status: 200, body: `{"authorization_code":`}},
			ErrInvalidResponse, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, iss := deviceSetup(t, tt.script...)
				start := time.Now()
				_, err := runDeviceFlow(t.Context(), iss, deviceCode, tt.opts)
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrLoginFailed) {
					t.Errorf("runDeviceFlow error = %v, want %v wrapping ErrLoginFailed", err, tt.wantErr)
				}
				if got := time.Since(start); got != tt.wantAfter {
					t.Errorf("returned after %v, want %v", got, tt.wantAfter)
				}
			})
		})
	}
}

func TestDeviceFlowCancel(t *testing.T) {
	tests := []struct {
		name   string
		script []deviceAnswer
		cancel time.Duration
	}{
		{"while waiting", []deviceAnswer{devicePending}, 12 * time.Second},
		{"during a poll", []deviceAnswer{devicePending, {hang: true}}, 11 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, iss := deviceSetup(t, tt.script...)
				ctx, cancel := context.WithCancel(t.Context())
				type result struct {
					err   error
					after time.Duration
				}
				done := make(chan result)
				start := time.Now()
				go func() {
					_, err := runDeviceFlow(ctx, iss, deviceCode, deviceOptions{})
					done <- result{err, time.Since(start)}
				}()
				time.Sleep(tt.cancel) // virtual
				cancel()
				r := <-done
				if !errors.Is(r.err, context.Canceled) {
					t.Errorf("error = %v, want context.Canceled", r.err)
				}
				if r.after != tt.cancel {
					t.Errorf("returned %v after start, want at the cancel (%v)", r.after, tt.cancel)
				}
				if diff := cmp.Diff(secs(5, 10), f.pollTimes()); diff != "" {
					t.Errorf("poll times (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestDeviceFlowExchangeError: a failed exchange after approval is the
// exchange's own error, not a device error.
func TestDeviceFlowExchangeError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth/token" {
				w.WriteHeader(400)
				io.WriteString(w, `{"error":"invalid_grant"}`)
				return
			}
			w.WriteHeader(200)
			io.WriteString(w, deviceApproved.body)
		})
		iss, err := openai.New(openai.Config{
			Issuer: "http://127.0.0.1:1",
			HTTP:   &http.Client{Timeout: 10 * time.Second, Transport: deviceRoundTripper{h}},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = runDeviceFlow(t.Context(), iss, deviceCode, deviceOptions{})
		var ie *IssuerError
		if !errors.As(err, &ie) || ie.Code != "invalid_grant" {
			t.Errorf("error = %v, want the exchange's IssuerError invalid_grant", err)
		}
	})
}
