// Command latency measures how long a change of the shared credentials
// made by another process takes to reach an editor as a notification
// (issue 8): file mode, 100 trials each of a login (atomic write of
// auth.json) and a logout (its removal), p50 and p99 against the targets
// (p50 20 ms, p99 100 ms); then keyring mode with a poll interval, a few
// trials, each within one interval or not. Run by make bench.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/codex-auth/codex-auth/bench/internal/benchutil"
	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
)

const (
	trials        = 100
	keyringTrials = 5
	keyringPoll   = 500 * time.Millisecond
	targetP50     = 20 * time.Millisecond
	targetP99     = 100 * time.Millisecond
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

func run() error {
	bin, _, err := benchutil.Binaries()
	if err != nil {
		return err
	}
	if err := fileMode(bin); err != nil {
		return fmt.Errorf("file mode: %w", err)
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		fmt.Println("keyring mode: skipped (no D-Bus session; run under scripts/with-keyring.sh)")
		return nil
	}
	if err := keyringMode(bin); err != nil {
		return fmt.Errorf("keyring mode: %w", err)
	}
	return nil
}

// tempHome is an empty CODEX_HOME, removed by the returned function.
func tempHome() (string, func(), error) {
	dir, err := os.MkdirTemp("", "codex-auth-latency-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// isUpdate and isInvalidated match the notifications a change produces.
func isUpdate(mode string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var u struct {
			AuthMode *string `json:"authMode"`
		}
		return json.Unmarshal(raw, &u) == nil && u.AuthMode != nil && *u.AuthMode == mode
	}
}

func isInvalidated(reason string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var v struct {
			Reason string `json:"reason"`
		}
		return json.Unmarshal(raw, &v) == nil && v.Reason == reason
	}
}

// measure makes one change and returns the time from its end to the
// arrival of the notification matching method and pred.
func measure(ctx context.Context, p *e2eutil.Proc, change func() error, method string, pred func(json.RawMessage) bool) (time.Duration, error) {
	mark := p.Len()
	if err := change(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	m, err := p.WaitNotification(ctx, mark, method, pred)
	if err != nil {
		return 0, err
	}
	return m.At.Sub(t0), nil
}

func fileMode(bin string) error {
	home, cleanup, err := tempHome()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p, err := e2eutil.StartSidecar(ctx, "sidecar", bin, e2eutil.Env(home))
	if err != nil {
		return err
	}
	defer e2eutil.Stop(p, 5*time.Second)
	var login, logout []time.Duration
	for i := range trials {
		key := fmt.Sprintf("sk-bench-latency-%04d-0000000000", i)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := measure(wctx, p, func() error { return e2eutil.WriteAtomic(home, "auth.json", e2eutil.APIKeyRecord(key)) },
			"account/updated", isUpdate("apikey"))
		if err != nil {
			wcancel()
			return fmt.Errorf("trial %d, login: %w", i, err)
		}
		login = append(login, d)
		d, err = measure(wctx, p, func() error { return os.Remove(filepath.Join(home, "auth.json")) },
			"account/sessionInvalidated", isInvalidated("loggedOut"))
		wcancel()
		if err != nil {
			return fmt.Errorf("trial %d, logout: %w", i, err)
		}
		logout = append(logout, d)
	}
	fmt.Printf("file mode, %d trials: change of auth.json by another process -> notification at the editor\n", trials)
	report("login  (atomic write -> account/updated)", login)
	report("logout (unlink -> account/sessionInvalidated)", logout)
	return nil
}

func report(name string, ds []time.Duration) {
	p50, p99 := benchutil.Percentile(ds, 50), benchutil.Percentile(ds, 99)
	fmt.Printf("  %-48s p50 %8v (%s of the %v target)  p99 %8v (%s of the %v target)\n", name,
		p50.Round(10*time.Microsecond), benchutil.Ratio(float64(p50), float64(targetP50)), targetP50,
		p99.Round(10*time.Microsecond), benchutil.Ratio(float64(p99), float64(targetP99)), targetP99)
}

func keyringMode(bin string) error {
	home, cleanup, err := tempHome()
	if err != nil {
		return err
	}
	defer cleanup()
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte("cli_auth_credentials_store = \"keyring\"\n"), 0o600); err != nil {
		return err
	}
	canon, err := filepath.EvalSymlinks(home)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(canon))
	account := "cli|" + hex.EncodeToString(sum[:])[:16]
	defer keyring.Delete("Codex Auth", account)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := e2eutil.StartSidecar(ctx, "sidecar", bin, e2eutil.Env(home, "CODEX_AUTH_KEYRING_POLL="+keyringPoll.String()))
	if err != nil {
		return err
	}
	defer e2eutil.Stop(p, 5*time.Second)
	fmt.Printf("keyring mode (poll every %v), %d trials: entry changed by another process -> notification\n", keyringPoll, keyringTrials)
	for i := range keyringTrials {
		key := fmt.Sprintf("sk-bench-keyring-%04d-0000000000", i)
		wctx, wcancel := context.WithTimeout(ctx, 10*keyringPoll+10*time.Second)
		in, err := measure(wctx, p, func() error { return keyring.Set("Codex Auth", account, string(compact(e2eutil.APIKeyRecord(key)))) },
			"account/updated", isUpdate("apikey"))
		if err != nil {
			wcancel()
			return fmt.Errorf("trial %d, login: %w", i, err)
		}
		out, err := measure(wctx, p, func() error { return keyring.Delete("Codex Auth", account) },
			"account/sessionInvalidated", isInvalidated("loggedOut"))
		wcancel()
		if err != nil {
			return fmt.Errorf("trial %d, logout: %w", i, err)
		}
		fmt.Printf("  trial %d: login %8v (within one interval: %v)  logout %8v (within one interval: %v)\n", i,
			in.Round(time.Millisecond), in <= keyringPoll, out.Round(time.Millisecond), out <= keyringPoll)
	}
	return nil
}

// compact is the record as compact JSON, as Codex stores it in the keyring.
func compact(b []byte) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	out, _ := json.Marshal(v)
	return out
}
