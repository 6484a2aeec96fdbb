package httpclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/google/go-cmp/cmp"
)

// testPKI is a CA and a server certificate it signed for 127.0.0.1,
// localhost and issuer.test.
type testPKI struct {
	caFile string
	cert   tls.Certificate
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "codex-auth test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "issuer.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		DNSNames:    []string{"issuer.test", "localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// env is a fake environment for Options.Getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// startIssuer runs the local issuer over TLS and returns its base URL.
func startIssuer(t *testing.T, pki testPKI, cfg localissuer.Config) (*localissuer.Server, string) {
	t.Helper()
	s, err := localissuer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.StartTLS("127.0.0.1:0", pki.cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, base
}

// getStatus GETs url and returns the status, or the error.
func getStatus(c *Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

func TestCABundle(t *testing.T) {
	pki := newPKI(t)
	_, base := startIssuer(t, pki, localissuer.Config{})
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name     string
		env      env
		wantOK   bool
		wantX509 bool // the handshake fails verifying the certificate
	}{
		{"CODEX_CA_CERTIFICATE", env{EnvCACertificate: pki.caFile}, true, false},
		{"SSL_CERT_FILE fallback", env{EnvSSLCertFile: pki.caFile}, true, false},
		{"empty CODEX_CA_CERTIFICATE is unset", env{EnvCACertificate: "", EnvSSLCertFile: pki.caFile}, true, false},
		{"CODEX_CA_CERTIFICATE wins", env{EnvCACertificate: pki.caFile, EnvSSLCertFile: missing}, true, false},
		{"no bundle: system roots only", env{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{Getenv: tt.env.get})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			st, err := getStatus(c, base+"/.well-known/openid-configuration")
			if tt.wantOK && (err != nil || st != 200) {
				t.Fatalf("GET: %d %v, want 200", st, err)
			}
			if tt.wantX509 {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("GET: %v, want a certificate verification error", err)
				}
				var unknown x509.UnknownAuthorityError
				if !errors.As(err, &unknown) {
					t.Errorf("GET: %v, want x509.UnknownAuthorityError", err)
				}
			}
		})
	}
}

func TestCABundleErrors(t *testing.T) {
	dir := t.TempDir()
	noCert := filepath.Join(dir, "nocert.pem")
	if err := os.WriteFile(noCert, []byte("-----BEGIN NOTHING-----\n-----END NOTHING-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name        string
		env         env
		wantVar     string
		wantNotExst bool
	}{
		{"unreadable CODEX_CA_CERTIFICATE", env{EnvCACertificate: missing}, EnvCACertificate, true},
		{"certificate-less CODEX_CA_CERTIFICATE", env{EnvCACertificate: noCert}, EnvCACertificate, false},
		{"unreadable SSL_CERT_FILE", env{EnvSSLCertFile: missing}, EnvSSLCertFile, true},
		{"directory", env{EnvCACertificate: dir}, EnvCACertificate, false},
		{"bad CODEX_CA_CERTIFICATE beats good SSL_CERT_FILE", env{EnvCACertificate: noCert, EnvSSLCertFile: "/etc/ssl/certs/ca-certificates.crt"}, EnvCACertificate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Getenv: tt.env.get})
			if !errors.Is(err, ErrCABundle) {
				t.Fatalf("New: %v, want ErrCABundle", err)
			}
			var ce *CABundleError
			if !errors.As(err, &ce) || ce.Var != tt.wantVar {
				t.Fatalf("New: %v, want a *CABundleError for %s", err, tt.wantVar)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.wantNotExst {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.wantNotExst)
			}
			for _, v := range []string{EnvCACertificate, EnvSSLCertFile} {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.UserAgent())
		mu.Unlock()
	}))
	defer srv.Close()
	c, err := New(Options{Getenv: env{}.get})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getStatus(c, srv.URL); err != nil {
		t.Fatal(err)
	}
	c.SetUserAgent("codex-auth/0.1.0 (vscode 1.99)")
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
	req.Header.Set("User-Agent", "caller's own")
	resp, err := c.HTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := req.Header.Get("User-Agent"); got != "caller's own" {
		t.Errorf("the caller's request was changed: User-Agent %q", got)
	}
	if d := cmp.Diff([]string{"codex-auth", "codex-auth/0.1.0 (vscode 1.99)"}, seen); d != "" {
		t.Errorf("user agents (-want +got):\n%s", d)
	}

	// SetUserAgent is safe while requests run (go test -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			c.SetUserAgent("codex-auth/0.1.0 (nvim " + string(rune('0'+i)) + ")")
			_, _ = getStatus(c, srv.URL)
		})
	}
	wg.Wait()
}

func TestTimeout(t *testing.T) {
	pki := newPKI(t)
	s, base := startIssuer(t, pki, localissuer.Config{})
	if err := s.SetFaults(localissuer.Faults{{Kind: localissuer.FaultHang}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Timeout: 100 * time.Millisecond, Getenv: env{EnvCACertificate: pki.caFile}.get})
	if err != nil {
		t.Fatal(err)
	}
	_, err = getStatus(c, base+"/oauth/token")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("GET on a hung server: %v, want a timeout", err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := New(Options{Getenv: env{}.get})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.HTTP().Timeout; got != DefaultTimeout {
		t.Errorf("Timeout = %v, want %v", got, DefaultTimeout)
	}
	if got := c.UserAgent(); got != DefaultUserAgent {
		t.Errorf("UserAgent = %q, want %q", got, DefaultUserAgent)
	}
}

// TestUserAgentHostile: a user agent built from what an editor sent in
// clientInfo may hold control characters; requests must still go out,
// with a header value that is valid and on one line.
func TestUserAgentHostile(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.UserAgent())
		mu.Unlock()
		if r.Header.Get("X-Injected") != "" {
			t.Errorf("a header was injected through the user agent")
		}
	}))
	defer srv.Close()
	c, err := New(Options{Getenv: env{}.get})
	if err != nil {
		t.Fatal(err)
	}
	for _, ua := range []string{
		"codex-auth/0.1.0 (evil\r\nX-Injected: 1)",
		"codex-auth/0.1.0 (nul\x00 bell\x07 del\x7f)",
		"codex-auth/0.1.0 (tab\tnewline\n)",
		"codex-auth/0.1.0 (" + strings.Repeat("long", 200) + ")",
		"\r\n",
	} {
		c.SetUserAgent(ua)
		if _, err := getStatus(c, srv.URL); err != nil {
			t.Errorf("request with user agent %q: %v", ua, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 5 {
		t.Fatalf("the server saw %d requests, want 5", len(seen))
	}
	for _, got := range seen {
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Errorf("user agent %q holds control character %U", got, r)
			}
		}
		if len(got) > maxUserAgent {
			t.Errorf("user agent of %d bytes, want at most %d", len(got), maxUserAgent)
		}
	}
	want := []string{"codex-auth/0.1.0 (evil X-Injected: 1)", "codex-auth/0.1.0 (nul bell del)", "codex-auth/0.1.0 (tab newline )"}
	if d := cmp.Diff(want, seen[:3]); d != "" {
		t.Errorf("user agents (-want +got):\n%s", d)
	}
	if seen[4] != DefaultUserAgent {
		t.Errorf("user agent of only control characters: got %q, want %q", seen[4], DefaultUserAgent)
	}
}

// TestNoRedirects: the client never follows a redirect; the caller gets
// the 3xx itself, and nothing reaches where it points.
func TestNoRedirects(t *testing.T) {
	hits := 0
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c, err := New(Options{Getenv: env{}.get})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, redirector.URL, strings.NewReader("refresh_token=SECRET"))
	resp, err := c.HTTP().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("status %d, want the 307 itself", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Errorf("the redirect was followed (%d requests elsewhere)", hits)
	}
}
