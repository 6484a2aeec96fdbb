package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/codex-auth/codex-auth/internal/localissuer"
)

func TestDevIssuerServes(t *testing.T) {
	// A global --store before dev is accepted (and means nothing to it).
	base, stop := startDevIssuer(t, "--store", "file", "dev", "issuer", "--addr", "127.0.0.1:0",
		"--user", "ada@example.com:pro:ws-1", "--fault", "kind=status,path=/oauth/revoke,status=503")
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q, want http://127.0.0.1:PORT", base)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(base+"/oauth/token", doc.TokenEndpoint); d != "" {
		t.Errorf("token_endpoint (-want +got):\n%s", d)
	}
	resp, err = c.Post(base+"/oauth/revoke", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("--fault on /oauth/revoke: status %d, want 503", resp.StatusCode)
	}
	if code, stderr := stop(); code != 0 {
		t.Errorf("exit code %d, want 0 (stderr: %s)", code, stderr)
	}
}

// startDevIssuer runs the command line args (a dev issuer) until stop,
// and returns the base URL it printed first; stop ends it and returns its
// exit code and stderr.
func startDevIssuer(t *testing.T, args ...string) (base string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	out, outW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, args, strings.NewReader(""), outW, &stderr, func(string) string { return "" })
		outW.Close()
	}()
	stop = func() (int, string) {
		cancel()
		code := <-done
		return code, stderr.String()
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		code, msg := stop()
		t.Fatalf("reading the first line: %v (exit code %d, stderr: %s)", err, code, msg)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	t.Cleanup(func() { cancel() })
	return strings.TrimSpace(line), stop
}

func TestDevIssuerLedger(t *testing.T) {
	ledger := filepath.Join(t.TempDir(), "issuer.ledger")
	// An existing file is appended to, and made 0600.
	if err := os.WriteFile(ledger, []byte("api_key\tsk-handed-before-0123456789\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base, stop := startDevIssuer(t, "dev", "issuer", "--addr", "127.0.0.1:0", "--ledger", ledger)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Post(base+"/api/accounts/deviceauth/usercode", "application/json",
		strings.NewReader(`{"client_id":"`+localissuer.DefaultClientID+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		DeviceAuthID string `json:"device_auth_id"`
		UserCode     string `json:"user_code"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil || answer.DeviceAuthID == "" {
		t.Fatalf("usercode: %v", err)
	}
	// On disk while the issuer still runs (a killed issuer leaves it).
	b, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	want := "api_key\tsk-handed-before-0123456789\ndevice_auth_id\t" + answer.DeviceAuthID + "\n"
	if string(b) != want {
		t.Errorf("the ledger holds %d bytes, want the line before and the device auth id (%d bytes)", len(b), len(want))
	}
	if strings.Contains(string(b), answer.UserCode) {
		t.Error("the user code is in the ledger")
	}
	code, stderr := stop()
	if code != 0 {
		t.Errorf("exit code %d, want 0 (stderr: %s)", code, stderr)
	}
	if want := "client_id=" + localissuer.DefaultClientID; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %s:\n%s", want, stderr)
	}
	if fi, err := os.Stat(ledger); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode: %v %v, want 0600", fi.Mode().Perm(), err)
	}
}

func TestDevArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"no subcommand", nil, 2},
		{"unknown subcommand", []string{"frobnicate"}, 2},
		{"bad flag", []string{"issuer", "--nope"}, 2},
		{"bad user", []string{"issuer", "--user", ":plus"}, 2},
		{"bad fault", []string{"issuer", "--fault", "kind=explode"}, 2},
		{"bad port", []string{"issuer", "--ports", "14x5"}, 2},
		{"cert without key", []string{"issuer", "--tls-cert", "c.pem"}, 2},
		{"help", []string{"issuer", "--help"}, 0},
		{"ledger in a missing directory", []string{"issuer", "--ledger", "/nonexistent/dir/x.ledger"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if got := runDev(t.Context(), tt.args, strings.NewReader(""), &out, &errOut); got != tt.want {
				t.Errorf("exit %d, want %d (stderr: %s)", got, tt.want, errOut.String())
			}
		})
	}
}

func TestParseDevIssuer(t *testing.T) {
	d, err := parseDevIssuer([]string{"--addr", "127.0.0.1:9999", "--user", "a@x", "--user", "b@x:team:ws-2",
		"--ports", "0", "--device-interval", "1", "--form", "--refresh-ttl", "1h", "--ledger", "x.ledger"})
	cfg, addr := d.cfg, d.addr
	if err != nil || d.cert != nil {
		t.Fatalf("parse: %v", err)
	}
	want := localissuer.Config{
		Users:                []localissuer.User{{Email: "a@x"}, {Email: "b@x", PlanType: "team", WorkspaceID: "ws-2"}},
		AllowedRedirectPorts: []int{0},
		DeviceInterval:       time.Second,
		Form:                 true,
		RefreshTokenTTL:      time.Hour,
	}
	if d := cmp.Diff(want, cfg, cmpopts.IgnoreFields(localissuer.Config{}, "SigningKey", "Now")); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
	if addr != "127.0.0.1:9999" || d.ledger != "x.ledger" {
		t.Errorf("addr %q, ledger %q", addr, d.ledger)
	}
}
