package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/internal/localissuer"
)

// TestServeResourceBounds runs the whole sidecar in process (serve on
// pipes, a real Manager on a file store, the local issuer) under 1,000
// concurrent account/read and 100 concurrent browser login starts, each
// cancelled: every request is answered, every login completes (canceled),
// and once serve has returned no goroutine of it is left. Memory is
// reported (make bench measures it side by side).
func TestServeResourceBounds(t *testing.T) {
	_, base := startIssuer(t, localissuer.Config{AllowedRedirectPorts: []int{0}})
	home := tempHome(t)
	env := map[string]string{
		"CODEX_HOME": home, "HOME": home, "CODEX_AUTH_ISSUER": base,
		"CODEX_AUTH_CALLBACK_PORT": "0", "CODEX_AUTH_SYSTEM_CONFIG_DIR": filepath.Join(home, "no-system"),
	}
	runtime.GC()
	baseGoroutines := ourGoroutines()
	var before, peak runtime.MemStats
	runtime.ReadMemStats(&before)

	edEnd, in, out := editortest.Pipes()
	code := make(chan int, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	go func() {
		code <- run(ctx, []string{"serve", "--log-level", "error"}, in, out, io.Discard, func(k string) string { return env[k] })
	}()
	ed := editortest.New(t, edEnd)
	if err := ed.Call(ctx, "initialize", map[string]any{"capabilities": map[string]any{},
		"initializationOptions": map[string]string{"protocolVersion": "1"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := ed.Notify("initialized", map[string]any{}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 1100)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ed.Call(ctx, "account/read", nil, nil); err != nil {
				errs <- fmt.Errorf("account/read: %w", err)
			}
		}()
	}
	ids := make(chan string, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r struct {
				LoginID string `json:"loginId"`
			}
			if err := ed.Call(ctx, "account/login/start", map[string]string{"type": "chatgpt"}, &r); err != nil {
				errs <- fmt.Errorf("account/login/start: %w", err)
				return
			}
			ids <- r.LoginID
			if err := ed.Call(ctx, "account/login/cancel", map[string]string{"loginId": r.LoginID}, nil); err != nil {
				errs <- fmt.Errorf("account/login/cancel: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	close(ids)
	for id := range ids {
		if _, err := ed.WaitFor(ctx, "account/login/completed", func(p json.RawMessage) bool {
			var c struct {
				LoginID string `json:"loginId"`
				Success bool   `json:"success"`
			}
			return json.Unmarshal(p, &c) == nil && c.LoginID == id && !c.Success
		}); err != nil {
			t.Fatalf("login %s never completed: %v", id, err)
		}
	}
	runtime.ReadMemStats(&peak)
	t.Logf("1,000 reads and 100 logins: heap in use %d -> %d KiB, %d goroutines (from %d)",
		before.HeapInuse>>10, peak.HeapInuse>>10, runtime.NumGoroutine(), baseGoroutines)

	if err := ed.Call(ctx, "shutdown", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := ed.Notify("exit", nil); err != nil {
		t.Fatal(err)
	}
	if got := <-code; got != 0 {
		t.Fatalf("serve exited %d, want 0", got)
	}
	_ = ed.Close()
	<-ed.Done()
	// Idle connections and finished handlers wind down; the guard only
	// stops a hang, the test never passes by waiting.
	guard := time.Now().Add(20 * time.Second)
	for ourGoroutines() > baseGoroutines && time.Now().Before(guard) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := ourGoroutines() - baseGoroutines; g > 0 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left after serve returned:\n%s", g, buf[:runtime.Stack(buf, true)])
	}
}

// ourGoroutines counts the goroutines but the runtime's signal loop,
// which the first signal.Notify starts for the life of the process.
func ourGoroutines() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "os/signal.signal_recv") {
			n++
		}
	}
	return n
}
