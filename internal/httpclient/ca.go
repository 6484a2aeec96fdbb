package httpclient

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// The environment variables naming a PEM CA bundle; the first wins, and
// an empty value counts as unset.
const (
	EnvCACertificate = "CODEX_CA_CERTIFICATE"
	EnvSSLCertFile   = "SSL_CERT_FILE"
)

// ErrCABundle is wrapped by every CA bundle error (see *CABundleError).
var ErrCABundle = errors.New("CA bundle unusable")

// CABundleError says which variable named which unusable bundle and why.
type CABundleError struct {
	// Var is the variable the path came from.
	Var string
	// Path is the bundle's path.
	Path string
	// Err is the read error, or nil when the file held no PEM certificate.
	Err error
}

// Error names both variables, so a user knows what to fix.
func (e *CABundleError) Error() string {
	why := "holds no PEM certificate"
	if e.Err != nil {
		why = "cannot be read: " + e.Err.Error()
	}
	return fmt.Sprintf("%v: %s=%s %s (%s wins over %s; unset both to use the system roots only)",
		ErrCABundle, e.Var, e.Path, why, EnvCACertificate, EnvSSLCertFile)
}

// Unwrap makes errors.Is(err, ErrCABundle) and the read error visible.
func (e *CABundleError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCABundle, e.Err}
	}
	return []error{ErrCABundle}
}

// loadRoots checks the bundle named by CODEX_CA_CERTIFICATE (else
// SSL_CERT_FILE) now, so that a bad one is a clear error at start, and
// returns the function that builds the pool: the system roots plus the
// bundle. Building it is left to the first request, because loading the
// system roots costs milliseconds (measured here: about 10 ms with
// Debian's bundle), which every start of the sidecar would otherwise pay
// although most never call the issuer. nil when neither variable is set
// (the system roots, loaded by crypto/tls when first needed).
func loadRoots(getenv func(string) string) (func() *x509.CertPool, error) {
	name, path := EnvCACertificate, getenv(EnvCACertificate)
	if path == "" {
		name, path = EnvSSLCertFile, getenv(EnvSSLCertFile)
	}
	if path == "" {
		return nil, nil
	}
	bundle, err := os.ReadFile(path)
	if err != nil {
		return nil, &CABundleError{Var: name, Path: path, Err: err}
	}
	if !hasCertificate(bundle) {
		return nil, &CABundleError{Var: name, Path: path}
	}
	return func() *x509.CertPool {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(bundle)
		return pool
	}, nil
}

// hasCertificate reports whether the PEM data holds at least one
// certificate that parses (stopping at the first).
func hasCertificate(data []byte) bool {
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err == nil {
			return true
		}
	}
	return false
}
