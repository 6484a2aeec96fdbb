package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
	"github.com/codex-auth/codex-auth/store"
)

// killRounds is how many sidecars are killed mid-flight, a quarter each
// mid-refresh (under the lock, the issuer slow), mid-login, mid-write and
// mid-switch.
const killRounds = 24

// TestSIGKILLMidFlight kills the real sidecar with SIGKILL in the middle
// of a refresh (holding auth.lock, waiting on a slow issuer), a browser
// login and a run of writes, in a loop. After every kill: what is stored
// parses, the next sidecar starts and answers at once, no lock is left
// held (its refresh is never a lock timeout), and no temp file of a write
// is left behind beside auth.json. A kill after the issuer rotated the
// token but before it was saved loses it by nature: the next refresh ends
// in one refreshFailed ("sign in again"), never a retry loop.
func TestSIGKILLMidFlight(t *testing.T) {
	// Access tokens of 2 s: every account/token redeems (an expired token
	// satisfies no coalescing), so the refresh rounds really refresh.
	iss := startIssuer(t, localissuer.Config{AccessTokenTTL: 2 * time.Second})
	home := t.TempDir()
	env := e2eutil.SidecarEnv(home, iss.BaseURL())
	bin := testenv.BuildBinary(t)
	ctx := testCtx(t, 5*time.Minute)
	lost := 0

	start := func(name string) *e2eutil.Proc {
		t.Helper()
		p, err := e2eutil.StartSidecar(ctx, name, bin, env)
		if err != nil {
			t.Fatal(redact(err.Error()))
		}
		return p
	}
	signIn := func() {
		t.Helper()
		if err := iss.SetFaults(nil); err != nil {
			t.Fatal(err)
		}
		p := start("signer")
		defer e2eutil.Stop(p, 10*time.Second)
		if err := e2eutil.LoginChatGPT(ctx, p); err != nil {
			t.Fatal(redact(err.Error()))
		}
	}
	signIn()

	for round := range killRounds {
		var p *e2eutil.Proc
		saved := 0 // saved accounts before a mid-switch kill
		switch round % 4 {
		case 0: // mid-refresh, under the lock
			if a, err := e2eutil.ReadAuth(home); err != nil || a.Tokens == nil {
				signIn()
			}
			// Slow before the issuer works, or after it rotated the token
			// (the answer held back): the kill lands under the lock.
			kind := localissuer.FaultLatency
			if (round/4)%2 == 1 {
				kind = localissuer.FaultSlowAnswer
			}
			if err := iss.SetFaults(localissuer.Faults{{Kind: kind, Path: "/oauth/token", Grant: "refresh_token", Latency: localissuer.Duration(400 * time.Millisecond)}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second) // the token expires
			p = start("refresher")
			if _, err := p.Send("account/token", map[string]bool{"refreshToken": true}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(200+rand.IntN(500)) * time.Millisecond)
		case 1: // mid-login
			if err := iss.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			p = start("login")
			var res e2eutil.LoginResult
			if err := p.Call(ctx, "account/login/start", map[string]string{"type": "chatgpt"}, &res); err != nil {
				t.Fatal(err)
			}
			go func() { _ = e2eutil.Browse(ctx, res.AuthURL) }()
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		case 2: // mid-write: API-key logins back to back
			p = start("writer")
			for i := range 20 {
				if _, err := p.Send("account/login/start", map[string]string{"type": "apiKey", "apiKey": "sk-proj-KILLTEST-" + string(rune('a'+i)) + "-0123456789abcdef"}); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		case 3: // mid-switch between saved accounts
			p = start("switcher")
			list := savedList(t, ctx, p)
			saved = len(list.Sessions)
			for _, s := range list.Sessions {
				if s.SessionID != list.ActiveSessionID {
					if _, err := p.Send("accountSession/switch", map[string]string{"sessionId": s.SessionID}); err != nil {
						t.Fatal(err)
					}
				}
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		}
		p.Kill()

		if _, err := e2eutil.ReadAuth(home); err != nil && !errors.Is(err, e2eutil.ErrNoAuth) {
			t.Fatalf("round %d: auth.json after SIGKILL: %v", round, err)
		}
		if err := iss.SetFaults(nil); err != nil {
			t.Fatal(err)
		}
		q := start("next")
		if err := q.Call(ctx, "account/read", nil, nil); err != nil {
			t.Fatalf("round %d: the next sidecar's account/read: %v", round, err)
		}
		// A temp file of the killed write (it holds a secret) is gone
		// once the next sidecar has started.
		if left, _ := filepath.Glob(filepath.Join(home, ".*.tmp-*")); len(left) > 0 {
			t.Errorf("round %d: temp files left beside auth.json after the next start: %v", round, left)
			for _, l := range left {
				_ = os.Remove(l)
			}
		}
		if saved > 0 {
			if got := len(savedList(t, ctx, q).Sessions); got != saved {
				t.Errorf("round %d: %d saved accounts after a kill mid-switch, want %d (none lost)", round, got, saved)
			}
		}
		a, _ := e2eutil.ReadAuth(home)
		if a.Tokens != nil {
			before := iss.Stats().Refreshes
			err := q.Call(ctx, "account/token", map[string]bool{"refreshToken": true}, nil)
			var je *editortest.Error
			switch {
			case err == nil:
			case errors.As(err, &je) && je.Code == -32017:
				lost++ // rotated by the issuer, killed before the save
				for range 3 {
					_ = q.Call(ctx, "account/token", map[string]bool{"refreshToken": true}, nil)
				}
				if n := iss.Stats().Refreshes - before; n > 1 {
					t.Errorf("round %d: %d refreshes after the session ended; want at most 1 (no retry loop)", round, n)
				}
				if _, err := q.WaitNotification(ctx, 0, "account/sessionInvalidated", func(p json.RawMessage) bool {
					var v struct{ Reason string }
					return json.Unmarshal(p, &v) == nil && v.Reason == "refreshFailed"
				}); err != nil {
					t.Errorf("round %d: no refreshFailed after the lost token: %v", round, err)
				}
			default:
				t.Errorf("round %d: the next sidecar's refresh: %v (a lock left held is -32013)", round, err)
			}
		}
		if data, err := os.ReadFile(filepath.Join(home, store.AuthFileName)); err == nil {
			if _, err := store.ParseRecord(data); err != nil {
				t.Fatalf("round %d: auth.json does not parse: %v", round, err)
			}
		}
		e2eutil.Stop(q, 10*time.Second)
	}
	t.Logf("%d kills, %d rotated tokens lost by nature (each ended in one refreshFailed)", killRounds, lost)
}

// savedSessions is accountSession/list's result, as far as the kill
// loop reads it.
type savedSessions struct {
	ActiveSessionID string `json:"activeSessionId"`
	Sessions        []struct {
		SessionID string `json:"sessionId"`
	} `json:"sessions"`
}

func savedList(t *testing.T, ctx context.Context, p *e2eutil.Proc) savedSessions {
	t.Helper()
	var l savedSessions
	if err := p.Call(ctx, "accountSession/list", nil, &l); err != nil {
		t.Fatalf("accountSession/list: %v", err)
	}
	return l
}
