package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/synctest"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
)

// TestNotificationsWhileTheEditorDoesNotRead: an editor that stops
// reading stdout while 50,000 account changes are due never holds the
// session up (every notify returns), memory and goroutines stay bounded,
// account/updated and accountSession/updated are coalesced each on its
// own (the latest of each is told, last), and no account/login/completed
// or account/sessionInvalidated is dropped.
func TestNotificationsWhileTheEditorDoesNotRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const updates = 50000
		srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth"})
		if err != nil {
			t.Fatal(err)
		}
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		code := make(chan int, 1)
		go func() { code <- srv.Run(context.Background(), newFakeService(), inR, outW) }()
		out := bufio.NewReader(outR)
		if _, err := inW.Write([]byte(frame(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`))); err != nil {
			t.Fatal(err)
		}
		if _, err := editortest.ReadFrame(out); err != nil {
			t.Fatal(err)
		}
		if _, err := inW.Write([]byte(frame(`{"jsonrpc":"2.0","method":"initialized","params":{}}`))); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		baseGoroutines := runtime.NumGoroutine()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		done := make(chan struct{})
		var wantCompleted []string
		go func() {
			defer close(done)
			for i := range updates {
				srv.AccountUpdated(session.AccountUpdated{AuthMode: "chatgpt", Email: fmt.Sprintf("user%d@example.com", i), PlanType: "plus"})
				if i%10 == 0 {
					// The last list is followed by account/updated that
					// must not replace it.
					srv.AccountsUpdated(session.AccountList{ActiveID: fmt.Sprintf("s%d", i)})
				}
				if i%5000 == 4999 {
					id := fmt.Sprintf("login-%d", i)
					wantCompleted = append(wantCompleted, id)
					srv.LoginCompleted(session.LoginCompleted{LoginID: id, Success: true})
				}
				if i == updates/2 {
					srv.SessionInvalidated(session.Invalidation{Reason: session.ReasonAccountChanged, Message: "another account signed in"})
				}
			}
		}()
		synctest.Wait() // everyone is blocked, or done
		select {
		case <-done:
		default:
			t.Fatalf("the notifying side is blocked behind an editor that does not read")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		grown := int64(after.HeapInuse) - int64(before.HeapInuse)
		t.Logf("while not reading: heap in use grew by %d bytes, %d more goroutines", grown, runtime.NumGoroutine()-baseGoroutines)
		if grown > 1<<20 {
			t.Errorf("heap in use grew by %d bytes while %d notifications were due; want it bounded (< 1 MiB: they take ~10 MB)", grown, updates)
		}
		if g := runtime.NumGoroutine() - baseGoroutines; g > 1 {
			t.Errorf("%d more goroutines while the editor does not read; want at most 1", g)
		}

		// The editor reads again: everything that must arrive arrives, in order.
		var gotCompleted []string
		var updated, lists, invalidated int
		lastEmail, lastList := "", ""
		wantList := fmt.Sprintf("s%d", (updates-1)/10*10)
		for lastEmail != fmt.Sprintf("user%d@example.com", updates-1) || lastList != wantList || len(gotCompleted) < len(wantCompleted) {
			body, err := editortest.ReadFrame(out)
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Method string          `json:"method"`
				Params json.RawMessage `json:"params"`
			}
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			switch m.Method {
			case rpc.MethodAccountUpdated:
				updated++
				var p struct {
					Email string `json:"email"`
				}
				_ = json.Unmarshal(m.Params, &p)
				lastEmail = p.Email
			case rpc.MethodAccountsUpdated:
				lists++
				var p struct {
					ActiveSessionID string `json:"activeSessionId"`
				}
				_ = json.Unmarshal(m.Params, &p)
				lastList = p.ActiveSessionID
			case rpc.MethodLoginCompleted:
				var p struct {
					LoginID string `json:"loginId"`
				}
				_ = json.Unmarshal(m.Params, &p)
				gotCompleted = append(gotCompleted, p.LoginID)
			case rpc.MethodSessionInvalidated:
				invalidated++
			}
		}
		t.Logf("the editor heard %d account/updated of %d, %d accountSession/updated of %d", updated, updates, lists, updates/10)
		if lists > 100 {
			t.Errorf("%d accountSession/updated sent for %d changes while the editor was not reading; want them coalesced", lists, updates/10)
		}
		if fmt.Sprint(gotCompleted) != fmt.Sprint(wantCompleted) {
			t.Errorf("login completions %v, want every one in order %v", gotCompleted, wantCompleted)
		}
		if invalidated != 1 {
			t.Errorf("%d account/sessionInvalidated, want 1", invalidated)
		}
		if updated > 100 {
			t.Errorf("%d account/updated sent for %d changes while the editor was not reading; want them coalesced", updated, updates)
		}
		_ = inW.Close()
		if got := <-code; got != 0 {
			t.Errorf("exit code %d, want 0", got)
		}
		synctest.Wait()
		if g := runtime.NumGoroutine() - baseGoroutines; g > 0 {
			t.Errorf("%d goroutines left after Run returned", g)
		}
	})
}
