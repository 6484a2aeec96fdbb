package localissuer

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// startDevice asks for a user code.
func (e *env) startDevice() (id, userCode string) {
	e.t.Helper()
	st, m := e.postJSON(pathDeviceUserCode, map[string]string{"client_id": DefaultClientID})
	if st != http.StatusOK {
		e.t.Fatalf("usercode: %d %q", st, errCode(m))
	}
	return str(m, "device_auth_id"), str(m, "user_code")
}

func (e *env) poll(id, userCode string) (int, map[string]any) {
	e.t.Helper()
	return e.postJSON(pathDeviceToken, map[string]string{"device_auth_id": id, "user_code": userCode})
}

func TestDeviceApproval(t *testing.T) {
	e := newEnv(t, Config{DeviceInterval: 2 * time.Second})
	st, m := e.postJSON(pathDeviceUserCode, map[string]string{"client_id": DefaultClientID})
	if st != 200 || m["interval"] != "2" || str(m, "user_code") == "" || str(m, "device_auth_id") == "" {
		t.Fatalf("usercode: %d, interval %v", st, m["interval"])
	}
	id, uc := str(m, "device_auth_id"), str(m, "user_code")
	if st, m := e.poll(id, uc); st != http.StatusForbidden || errCode(m) != "authorization_pending" {
		t.Fatalf("poll before approval: %d %q, want 403 authorization_pending", st, errCode(m))
	}
	resp, err := e.c.PostForm(e.base+"/codex/device", url.Values{"user_code": {uc}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("approve page: status %d", resp.StatusCode)
	}
	st, grant := e.poll(id, uc)
	if st != 200 {
		t.Fatalf("poll after approval: %d %q", st, errCode(grant))
	}
	verifier := str(grant, "code_verifier")
	if str(grant, "code_challenge") == "" || verifier == "" || str(grant, "authorization_code") == "" {
		t.Fatalf("grant lacks fields")
	}
	exchange := func(redirect string) (int, map[string]any) {
		return e.postForm("/oauth/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {str(grant, "authorization_code")},
			"redirect_uri": {redirect}, "client_id": {DefaultClientID}, "code_verifier": {verifier},
		})
	}
	if st, m := exchange(e.base + "/deviceauth/callback"); st != 200 || str(m, "refresh_token") == "" {
		t.Fatalf("device code exchange: %d %q", st, errCode(m))
	}
	if st, m := e.poll(id, uc); st != 400 || errCode(m) != "invalid_grant" {
		t.Errorf("poll after redemption: %d %q, want 400 invalid_grant", st, errCode(m))
	}
	want := Stats{CodesIssued: 1, CodesRedeemed: 1, DeviceCodes: 1, DeviceApprovals: 1}
	if d := cmp.Diff(want, e.s.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestDeviceRedirectMustBeDeviceCallback(t *testing.T) {
	e := newEnv(t, Config{})
	id, uc := e.startDevice()
	if err := e.s.ApproveDevice(uc); err != nil {
		t.Fatal(err)
	}
	_, grant := e.poll(id, uc)
	st, m := e.postForm("/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {str(grant, "authorization_code")},
		"redirect_uri": {testRedirect}, "client_id": {DefaultClientID}, "code_verifier": {str(grant, "code_verifier")},
	})
	if st != 400 || errCode(m) != "invalid_grant" {
		t.Errorf("exchange with a loopback redirect: %d %q, want 400 invalid_grant", st, errCode(m))
	}
}

func TestDeviceDenial(t *testing.T) {
	e := newEnv(t, Config{})
	id, uc := e.startDevice()
	resp, err := e.c.PostForm(e.base+"/codex/device", url.Values{"user_code": {uc}, "action": {"deny"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, m := e.poll(id, uc); st != 400 || errCode(m) != "access_denied" {
		t.Errorf("poll after denial: %d %q, want 400 access_denied", st, errCode(m))
	}
	if err := e.s.ApproveDevice(uc); !errors.Is(err, ErrDeviceDecided) {
		t.Errorf("approve after denial: %v, want ErrDeviceDecided", err)
	}
	if got := e.s.Stats().DeviceDenials; got != 1 {
		t.Errorf("device_denials = %d, want 1", got)
	}
}

func TestDeviceExpiry(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Now: clock.Now, DeviceCodeTTL: 10 * time.Minute})
	id, uc := e.startDevice()
	clock.Advance(10*time.Minute - time.Second)
	if st, _ := e.poll(id, uc); st != http.StatusForbidden {
		t.Fatalf("poll just before expiry: %d, want 403", st)
	}
	clock.Advance(time.Second)
	if st, m := e.poll(id, uc); st != 400 || errCode(m) != "expired_token" {
		t.Errorf("poll at expiry: %d %q, want 400 expired_token", st, errCode(m))
	}
	if err := e.s.ApproveDevice(uc); !errors.Is(err, ErrDeviceExpired) {
		t.Errorf("approve after expiry: %v, want ErrDeviceExpired", err)
	}
}

func TestDeviceRejects(t *testing.T) {
	e := newEnv(t, Config{})
	id, uc := e.startDevice()
	tests := []struct {
		name       string
		send       func() (int, map[string]any)
		wantStatus int
		wantError  string
	}{
		{"usercode wrong client", func() (int, map[string]any) {
			return e.postJSON(pathDeviceUserCode, map[string]string{"client_id": "app_other"})
		}, 401, "invalid_client"},
		{"usercode as form", func() (int, map[string]any) {
			return e.postForm(pathDeviceUserCode, url.Values{"client_id": {DefaultClientID}})
		}, 400, "invalid_request"},
		{"poll mismatched user code", func() (int, map[string]any) { return e.poll(id, "AAAA-BBBB") }, 400, "invalid_grant"},
		{"poll unknown id", func() (int, map[string]any) { return e.poll("deviceauth_nope", uc) }, 400, "invalid_grant"},
		{"poll without user code", func() (int, map[string]any) {
			return e.postJSON(pathDeviceToken, map[string]string{"device_auth_id": id})
		}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		if st, m := tt.send(); st != tt.wantStatus || errCode(m) != tt.wantError {
			t.Errorf("%s: %d %q, want %d %q", tt.name, st, errCode(m), tt.wantStatus, tt.wantError)
		}
	}
	if err := e.s.ApproveDevice("ZZZZ-ZZZZ"); !errors.Is(err, ErrUnknownUserCode) {
		t.Errorf("approve unknown: %v, want ErrUnknownUserCode", err)
	}
	resp, err := e.c.PostForm(e.base+"/codex/device", url.Values{"user_code": {"ZZZZ-ZZZZ"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("device page, unknown code: %d, want 404", resp.StatusCode)
	}
}

func TestDeviceDisabled(t *testing.T) {
	for _, cfg := range []Config{{DeviceDisabled: true}, {Faults: Faults{{Kind: FaultDeviceDisabled}}}} {
		e := newEnv(t, cfg)
		if st, _ := e.postJSON(pathDeviceUserCode, map[string]string{"client_id": DefaultClientID}); st != http.StatusNotFound {
			t.Errorf("DeviceDisabled=%v faults=%v: status %d, want 404", cfg.DeviceDisabled, cfg.Faults, st)
		}
		if got := e.s.Stats().DeviceCodes; got != 0 {
			t.Errorf("device_codes = %d, want 0", got)
		}
	}
}

func TestDeviceUserCodeNormalized(t *testing.T) {
	e := newEnv(t, Config{})
	_, uc := e.startDevice()
	lower := []rune(uc)
	for i, r := range lower {
		if r >= 'A' && r <= 'Z' {
			lower[i] = r + 'a' - 'A'
		}
	}
	if err := e.s.ApproveDevice(" " + string(lower) + " "); err != nil {
		t.Errorf("approve %q typed in lower case: %v", uc, err)
	}
}
