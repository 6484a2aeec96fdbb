package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// codexResult is one run of the Codex CLI: its stderr lines without the
// PATH-aliases warning it prints for temporary homes, and its exit code.
type codexResult struct {
	Lines []string
	Code  int
}

// runCodex runs the real Codex CLI on home with stdin and args.
func runCodex(t *testing.T, home Home, stdin string, args ...string) codexResult {
	t.Helper()
	return runCodexEnv(t, testenv.CodexEnv(home.Dir), stdin, args...)
}

func runCodexEnv(t *testing.T, env []string, stdin string, args ...string) codexResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Codex(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("codex %v: %v", args, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "WARNING: proceeding") {
			lines = append(lines, l)
		}
	}
	return codexResult{Lines: lines, Code: code}
}

// testJWT64 builds an unsigned JWT with payload.
func unsignedJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestCodexWritesWeRead(t *testing.T) {
	home := tempHome(t)
	const key = "sk-test<&>abcdefghijklmnop"
	if res := runCodex(t, home, key+"\n", "login", "--with-api-key"); res.Code != 0 {
		t.Fatalf("codex login: %+v", res)
	}
	s := openStore(t, home, Options{})
	codexBytes, err := os.ReadFile(s.AuthFile())
	if err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, s.AuthFile()); m != 0o600 {
		t.Errorf("mode after codex wrote: %o", m)
	}
	r, err := s.Load(t.Context())
	if err != nil || r == nil || r.APIKey == nil || *r.APIKey != key || r.AuthMode != AuthModeAPIKey {
		t.Fatalf("Load = %+v, %v", r, err)
	}
	// Our write of the same login is byte-for-byte Codex's.
	if err := s.Replace(t.Context(), NewAPIKeyRecord(key)); err != nil {
		t.Fatal(err)
	}
	ours, _ := os.ReadFile(s.AuthFile())
	if diff := cmp.Diff(string(codexBytes), string(ours)); diff != "" {
		t.Errorf("our auth.json differs from Codex's (-codex +ours):\n%s", diff)
	}
	if m := fileMode(t, s.AuthFile()); m != 0o600 {
		t.Errorf("mode after we wrote: %o", m)
	}
	// Codex logs out what we wrote; we see nothing.
	if res := runCodex(t, home, "", "logout"); res.Code != 0 || !cmp.Equal(res.Lines, []string{"Successfully logged out"}) {
		t.Errorf("codex logout: %+v", res)
	}
	if r, err := s.Load(t.Context()); r != nil || err != nil {
		t.Errorf("Load after codex logout = %v, %v", r, err)
	}
}

func TestWeWriteCodexReads(t *testing.T) {
	home := tempHome(t)
	s := openStore(t, home, Options{})
	for _, key := range []string{"sk-abcdefghijk", "abcdefghijklm", "abcdefghijklmn", "sk-proj-abcdefghijklmnopqrstuvwxyz"} {
		if err := s.Replace(t.Context(), NewAPIKeyRecord(key)); err != nil {
			t.Fatal(err)
		}
		want := codexResult{Lines: []string{"API key configured - " + MaskAPIKey(key), "Authentication is checked when you send a request."}}
		if diff := cmp.Diff(want, runCodex(t, home, "", "login", "status")); diff != "" {
			t.Errorf("codex login status for a %d-byte key (-want +got):\n%s", len(key), diff)
		}
	}
	if _, err := s.Delete(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(codexResult{Lines: []string{"Not logged in"}, Code: 1}, runCodex(t, home, "", "login", "status")); diff != "" {
		t.Errorf("codex login status after our logout (-want +got):\n%s", diff)
	}

	id := unsignedJWT(`{"email":"dev@example.com","exp":4102444800,"https://api.openai.com/auth":{"chatgpt_plan_type":"plus","chatgpt_account_id":"ws-1","chatgpt_user_id":"u-1"}}`)
	access := unsignedJWT(`{"exp":4102444800,"https://api.openai.com/auth":{"chatgpt_account_id":"ws-1"}}`)
	acct := "ws-1"
	now := time.Now()
	rec := &Record{AuthMode: AuthModeChatGPT, Tokens: &Tokens{IDToken: id, AccessToken: access, RefreshToken: "rt-1", AccountID: &acct}, LastRefresh: &now}
	if err := s.Replace(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(codexResult{Lines: []string{"Logged in using ChatGPT"}}, runCodex(t, home, "", "login", "status")); diff != "" {
		t.Errorf("codex login status for our ChatGPT record (-want +got):\n%s", diff)
	}
	if m := fileMode(t, s.AuthFile()); m != 0o600 {
		t.Errorf("mode: %o", m)
	}
}

// TestCodexWritingWhileWeUpdate runs `codex login --with-api-key` in a
// loop while we Update a counter: Codex replaces the record (dropping our
// key), but no update of ours is ever overwritten by a stale one, and
// every read parses.
func TestCodexWritingWhileWeUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Codex CLI repeatedly")
	}
	home := tempHome(t)
	testenv.Codex(t)
	s := openStore(t, home, Options{})
	ctx := t.Context()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var codexRuns atomic.Int32
	wg.Go(func() {
		for i := 0; !stop.Load() && i < 8; i++ {
			key := "sk-codex-loop-" + strings.Repeat("k", 8) + string(rune('a'+i))
			if res := runCodex(t, home, key, "login", "--with-api-key"); res.Code != 0 {
				t.Errorf("codex login: %+v", res)
				return
			}
			codexRuns.Add(1)
		}
	})
	wg.Go(func() { // a reader that must never see a torn file
		for !stop.Load() {
			if _, err := s.Load(ctx); err != nil {
				t.Errorf("Load during codex writes: %v", err)
				return
			}
		}
	})
	last, resets, seenCodexKey := 0, 0, false
	for i := 0; codexRuns.Load() < 8 && i < 5000 && !t.Failed(); i++ {
		_, err := s.Update(ctx, func(cur *Record) (*Record, error) {
			n, ok := counterOf(cur)
			switch {
			case !ok && last > 0:
				resets++ // Codex replaced the whole record: allowed.
			case ok && n != last:
				t.Errorf("lost update: stored counter %d, we last wrote %d", n, last)
			}
			if cur != nil && cur.APIKey != nil && strings.HasPrefix(*cur.APIKey, "sk-codex-loop-") {
				seenCodexKey = true
			}
			last = n + 1
			if !ok {
				last = 1
			}
			return withCounter(cur, last), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if !seenCodexKey || resets == 0 {
		t.Errorf("Codex's writes never interleaved with ours (saw its key: %v, resets: %d)", seenCodexKey, resets)
	}
	if _, err := s.Load(ctx); err != nil {
		t.Errorf("final Load: %v", err)
	}
}
