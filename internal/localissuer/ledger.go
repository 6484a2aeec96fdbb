package localissuer

import (
	"io"
	"strings"
	"sync"
)

// What the ledger calls each secret (the first field of its lines).
const (
	secretAccessToken  = "access_token"
	secretIDToken      = "id_token"
	secretRefreshToken = "refresh_token"
	secretCode         = "authorization_code"
	secretVerifier     = "code_verifier"
	secretDeviceAuthID = "device_auth_id"
	secretAPIKey       = "api_key"
	secretToken        = "token" // presented to /oauth/revoke without a hint
)

// minLedgerSecret is the shortest value the ledger records: anything
// shorter a client presents is no credential of this issuer (and would
// make a leak scan match everywhere).
const minLedgerSecret = 16

// ledger appends every secret the issuer mints or is handed to
// Config.Ledger, as "kind\tsecret\n", once per secret, each line in one
// Write (so a file holds every line written before a kill). Safe for
// concurrent use; a nil *ledger records nothing.
type ledger struct {
	mu   sync.Mutex
	w    io.Writer
	seen map[string]bool
	err  error
}

func newLedger(w io.Writer) *ledger {
	if w == nil {
		return nil
	}
	return &ledger{w: w, seen: map[string]bool{}}
}

// record writes secret under kind unless it was recorded before, is
// shorter than minLedgerSecret or holds a control character (a value
// that cannot be one line).
func (l *ledger) record(kind, secret string) {
	if l == nil || len(secret) < minLedgerSecret || strings.ContainsFunc(secret, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.seen[secret] {
		return
	}
	l.seen[secret] = true
	_, l.err = io.WriteString(l.w, kind+"\t"+secret+"\n")
}

// failure is the first write error (nil when every line was written).
func (l *ledger) failure() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
