package localissuer

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// lines is an io.Writer safe for concurrent use that keeps each Write.
type lines struct {
	mu     sync.Mutex
	writes []string
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(b))
	return len(b), nil
}

// recorded is kind by secret; it fails on a Write that is not one whole
// line or a secret written twice.
func (l *lines) recorded(t *testing.T) map[string]string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	got := map[string]string{}
	for _, w := range l.writes {
		kind, secret, ok := strings.Cut(strings.TrimSuffix(w, "\n"), "\t")
		if !ok || !strings.HasSuffix(w, "\n") || strings.Count(w, "\n") != 1 {
			t.Fatalf("a ledger write is not one kind\\tsecret line: %d bytes", len(w))
		}
		if _, dup := got[secret]; dup {
			t.Errorf("a %s is recorded twice", kind)
		}
		got[secret] = kind
	}
	return got
}

func TestLedgerRecordsEverySecret(t *testing.T) {
	var led lines
	e := newEnv(t, Config{Ledger: &led})

	// Browser login, then a refresh, an API key, whoami and a revoke.
	p := newPKCE()
	code := e.code(p)
	st, first := e.exchange(code, p.verifier)
	if st != http.StatusOK {
		t.Fatalf("exchange: %d %q", st, errCode(first))
	}
	st, second := e.refresh(str(first, "refresh_token"))
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %q", st, errCode(second))
	}
	st, key := e.postForm("/oauth/token", url.Values{
		"grant_type": {grantTokenExchange}, "client_id": {DefaultClientID},
		"requested_token": {"openai-api-key"}, "subject_token": {str(second, "id_token")},
		"subject_token_type": {tokenTypeIDToken},
	})
	if st != http.StatusOK {
		t.Fatalf("API key exchange: %d %q", st, errCode(key))
	}
	pat := "at-personal-" + strings.Repeat("x", 16)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.base+PathWhoami, nil)
	req.Header.Set("Authorization", "Bearer "+pat)
	resp, err := e.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	foreign := "rt_from_elsewhere_" + strings.Repeat("y", 16)
	if st, m := e.postForm("/oauth/revoke", url.Values{"token": {foreign}, "client_id": {DefaultClientID}}); st != http.StatusOK {
		t.Fatalf("revoke: %d %q", st, errCode(m))
	}
	// Values too short to be a credential are not recorded.
	e.refresh("short")

	// Device login.
	id, userCode := e.startDevice()
	if err := e.s.ApproveDevice(userCode); err != nil {
		t.Fatal(err)
	}
	st, grant := e.poll(id, userCode)
	if st != http.StatusOK {
		t.Fatalf("poll: %d %q", st, errCode(grant))
	}

	want := map[string]string{
		code:                             "authorization_code",
		p.verifier:                       "code_verifier",
		str(first, "id_token"):           "id_token",
		str(first, "access_token"):       "access_token",
		str(first, "refresh_token"):      "refresh_token",
		str(second, "id_token"):          "id_token",
		str(second, "access_token"):      "access_token",
		str(second, "refresh_token"):     "refresh_token",
		str(key, "access_token"):         "api_key",
		pat:                              "access_token",
		foreign:                          "token",
		id:                               "device_auth_id",
		str(grant, "code_verifier"):      "code_verifier",
		str(grant, "authorization_code"): "authorization_code",
	}
	got := led.recorded(t)
	if len(got) != len(want) {
		t.Errorf("%d secrets recorded, want %d", len(got), len(want))
	}
	for secret, kind := range want {
		if got[secret] != kind {
			t.Errorf("a %s recorded as %q", kind, got[secret])
		}
	}
	if _, ok := got[userCode]; ok {
		t.Error("the user code (shown by design) is recorded")
	}
	if e.s.LedgerErr() != nil {
		t.Errorf("LedgerErr: %v", e.s.LedgerErr())
	}
}

// failingWriter fails every Write.
type failingWriter struct{ n int }

func (f *failingWriter) Write([]byte) (int, error) { f.n++; return 0, errors.New("disk full") }

func TestLedgerWriteErrorIsKept(t *testing.T) {
	fw := &failingWriter{}
	e := newEnv(t, Config{Ledger: fw})
	e.login()
	e.login()
	if err := e.s.LedgerErr(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("LedgerErr = %v, want the write error", err)
	}
	if fw.n != 1 {
		t.Errorf("%d writes after the first failed one, want none", fw.n-1)
	}
}

func TestNoLedgerRecordsNothing(t *testing.T) {
	e := newEnv(t, Config{})
	e.login()
	if e.s.LedgerErr() != nil || e.s.ledger != nil {
		t.Errorf("a ledger without Config.Ledger")
	}
}
