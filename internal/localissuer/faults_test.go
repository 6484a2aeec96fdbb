package localissuer

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// discoveryStatus GETs the discovery document and returns the status.
func (e *env) discoveryStatus() int {
	e.t.Helper()
	resp := e.get("/.well-known/openid-configuration")
	resp.Body.Close()
	return resp.StatusCode
}

func TestFaultStatusCountAndSticky(t *testing.T) {
	e := newEnv(t, Config{})
	if err := e.s.SetFaults(Faults{{Kind: FaultStatus, Status: 502, Count: 2}}); err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 3 {
		got = append(got, e.discoveryStatus())
	}
	if d := cmp.Diff([]int{502, 502, 200}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	if n := len(e.s.ArmedFaults()); n != 0 {
		t.Errorf("%d faults still armed after their count, want 0", n)
	}
	_ = e.s.SetFaults(Faults{{Kind: FaultStatus}})
	for range 2 {
		if st := e.discoveryStatus(); st != 503 {
			t.Errorf("sticky fault: status %d, want 503", st)
		}
	}
	// /debug/ is never faulted.
	resp := e.get("/debug/stats")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/debug/stats under a global fault: %d, want 200", resp.StatusCode)
	}
}

func TestFaultScoping(t *testing.T) {
	e := newEnv(t, Config{})
	rt := str(e.login(), "refresh_token")
	_ = e.s.SetFaults(Faults{
		{Kind: FaultStatus, Status: 500, Path: "/oauth/token", Grant: "refresh_token"},
	})
	if st := e.discoveryStatus(); st != 200 {
		t.Errorf("other path: %d, want 200", st)
	}
	e.login() // the code grant is not faulted
	if st, _ := e.refresh(rt); st != 500 {
		t.Errorf("refresh: %d, want 500", st)
	}
	_ = e.s.SetFaults(nil)
	if st, m := e.refresh(rt); st != 200 {
		t.Errorf("refresh after clearing: %d %q, want 200 (the faulted attempt must not use the token)", st, errCode(m))
	}
}

func TestFaultDrop(t *testing.T) {
	e := newEnv(t, Config{})
	_ = e.s.SetFaults(Faults{{Kind: FaultDrop, Count: 1}})
	resp, err := e.c.Get(e.base + "/.well-known/jwks.json")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection: got status %d, want an error", resp.StatusCode)
	}
}

func TestFaultTruncate(t *testing.T) {
	e := newEnv(t, Config{})
	_ = e.s.SetFaults(Faults{{Kind: FaultTruncate, Path: "/.well-known/jwks.json"}})
	resp := e.get("/.well-known/jwks.json")
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a truncated body: %v, want unexpected EOF", err)
	}
}

func TestFaultMalformed(t *testing.T) {
	e := newEnv(t, Config{})
	_ = e.s.SetFaults(Faults{{Kind: FaultMalformed}})
	resp := e.get("/.well-known/jwks.json")
	defer resp.Body.Close()
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err == nil || resp.StatusCode != 200 {
		t.Errorf("malformed body: status %d, decode error %v; want 200 and an error", resp.StatusCode, err)
	}
}

func TestFaultMissingFields(t *testing.T) {
	tests := []struct {
		fields  []string
		missing []string
	}{
		{nil, []string{"refresh_token"}},
		{[]string{"id_token", "access_token"}, []string{"id_token", "access_token"}},
	}
	for _, tt := range tests {
		e := newEnv(t, Config{})
		_ = e.s.SetFaults(Faults{{Kind: FaultMissingFields, Fields: tt.fields, Path: "/oauth/token"}})
		m := e.login()
		var gone []string
		for _, k := range []string{"id_token", "access_token", "refresh_token"} {
			if _, ok := m[k]; !ok {
				gone = append(gone, k)
			}
		}
		if d := cmp.Diff(tt.missing, gone); d != "" {
			t.Errorf("fields %v: missing (-want +got):\n%s", tt.fields, d)
		}
	}
}

func TestFaultLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{SigningKey: testKey(), Faults: Faults{{Kind: FaultLatency, Latency: Duration(3 * time.Second)}}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
		if got, want := time.Since(start), 3*time.Second; got != want {
			t.Errorf("answer after %v, want %v", got, want)
		}
		if w.Code != 200 {
			t.Errorf("status %d, want 200", w.Code)
		}
	})
}

func TestFaultHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{SigningKey: testKey(), Faults: Faults{{Kind: FaultHang}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", "/.well-known/jwks.json", nil))
		}()
		time.Sleep(time.Hour) // virtual time
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("hung request answered")
		default:
		}
		cancel()
		<-done
	})
}

func TestFaultHangEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{SigningKey: testKey(), Faults: Faults{{Kind: FaultHang}}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/oauth/token", nil))
		}()
		synctest.Wait()
		s.Close()
		<-done
	})
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		in   string
		want Fault
	}{
		{"kind=status,path=/oauth/token,status=503,count=2", Fault{Kind: FaultStatus, Path: "/oauth/token", Status: 503, Count: 2}},
		{"kind=latency,latency=250ms", Fault{Kind: FaultLatency, Latency: Duration(250 * time.Millisecond)}},
		{"kind=missing_fields,fields=refresh_token+id_token,grant=refresh_token", Fault{Kind: FaultMissingFields, Fields: []string{"refresh_token", "id_token"}, Grant: "refresh_token"}},
	}
	for _, tt := range tests {
		got, err := ParseFault(tt.in)
		if err != nil {
			t.Errorf("ParseFault(%q): %v", tt.in, err)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("ParseFault(%q) (-want +got):\n%s", tt.in, d)
		}
	}
	for _, bad := range []string{"kind=nope", "kind=status,status=abc", "status", "kind=drop,color=red", "kind=drop,path=oauth"} {
		if _, err := ParseFault(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseFault(%q): %v, want ErrConfig", bad, err)
		}
	}
}

func TestDebugEndpoints(t *testing.T) {
	e := newEnv(t, Config{Users: []User{{Email: "a@x"}, {Email: "b@x", PlanType: "team"}}})
	post := func(path, body string) int {
		t.Helper()
		st, _ := e.post(path, "application/json", body)
		return st
	}
	if st := post("/debug/faults", `[{"kind":"status","status":504,"count":1}]`); st != 200 {
		t.Fatalf("POST /debug/faults: %d", st)
	}
	if st := e.discoveryStatus(); st != 504 {
		t.Errorf("after POST /debug/faults: %d, want 504", st)
	}
	if st := post("/debug/faults", `[{"kind":"bogus"}]`); st != 400 {
		t.Errorf("bad fault: %d, want 400", st)
	}
	if st := post("/debug/user", `{"email":"b@x"}`); st != 200 {
		t.Fatalf("POST /debug/user: %d", st)
	}
	if got := claims(t, str(e.login(), "id_token"))["email"]; got != "b@x" {
		t.Errorf("login after /debug/user signs in %v, want b@x", got)
	}
	if st := post("/debug/user", `{"email":"nobody@x"}`); st != 404 {
		t.Errorf("unknown user: %d, want 404", st)
	}
	id, uc := e.startDevice()
	if st := post("/debug/device/approve", `{"user_code":"`+uc+`"}`); st != 200 {
		t.Fatalf("approve: %d", st)
	}
	if st := post("/debug/device/deny", `{"user_code":"`+uc+`"}`); st != 409 {
		t.Errorf("deny after approve: %d, want 409", st)
	}
	if st, _ := e.poll(id, uc); st != 200 {
		t.Errorf("poll after /debug/device/approve: %d, want 200", st)
	}
	rt := str(e.login(), "refresh_token")
	if st := post("/debug/revoke", `{"refresh_token":"`+rt+`"}`); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := e.refresh(rt); st != 401 {
		t.Errorf("refresh after /debug/revoke: %d, want 401", st)
	}
	rt = str(e.login(), "refresh_token")
	if st := post("/debug/revoke", `{"all":true}`); st != 200 {
		t.Fatalf("revoke all: %d", st)
	}
	if st, _ := e.refresh(rt); st != 401 {
		t.Errorf("refresh after revoke all: %d, want 401", st)
	}
	at := str(e.login(), "access_token")
	exp := claims(t, at)["exp"].(float64)
	if st := post("/debug/clock", `{"advance":"2h"}`); st != 200 {
		t.Fatalf("clock: %d", st)
	}
	if got := claims(t, str(e.login(), "access_token"))["exp"].(float64); got < exp+7200 {
		t.Errorf("exp after advancing 2h = %v, want >= %v", got, exp+7200)
	}
	resp := e.get("/debug/stats")
	defer resp.Body.Close()
	var stats Stats
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(e.s.Stats(), stats); d != "" {
		t.Errorf("GET /debug/stats vs Stats() (-want +got):\n%s", d)
	}
	if stats.CodesIssued != 6 || stats.DeviceApprovals != 1 {
		t.Errorf("stats codes_issued=%d device_approvals=%d, want 6 and 1", stats.CodesIssued, stats.DeviceApprovals)
	}
	raw := e.get("/debug/stats")
	b, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	for _, k := range []string{"codes_issued", "codes_redeemed", "refreshes", "reuse_detections", "revocations",
		"device_codes", "device_approvals", "device_denials", "api_key_exchanges", "token_errors"} {
		if !strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("/debug/stats lacks %s", k)
		}
	}
}
