package rpc_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
)

// countingReader counts the bytes the server has taken from its input.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestFloodBoundedMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			requests    = 10000
			maxInFlight = 8
		)
		srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth", MaxInFlight: maxInFlight})
		if err != nil {
			t.Fatal(err)
		}
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		in := &countingReader{r: inR}
		code := make(chan int, 1)
		go func() { code <- srv.Run(context.Background(), newFakeService(), in, outW) }()
		out := bufio.NewReader(outR)
		if _, err := inW.Write([]byte(frame(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`))); err != nil {
			t.Fatal(err)
		}
		if _, err := editortest.ReadFrame(out); err != nil {
			t.Fatal(err)
		}
		baseRead := in.n.Load()
		baseGoroutines := runtime.NumGoroutine()

		var sent atomic.Int64
		frameLen := len(frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"account/read"}`, requests)))
		go func() {
			for i := 1; i <= requests; i++ {
				f := frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"account/read"}`, i))
				if _, err := inW.Write([]byte(f)); err != nil {
					return
				}
				sent.Add(1)
			}
		}()
		synctest.Wait() // everyone is blocked: nobody reads the replies

		read := in.n.Load() - baseRead
		// The read buffer, the handlers in flight, the one waiting for a
		// slot: never the whole flood.
		if limit := int64(4096 + (maxInFlight+4)*frameLen); read > limit {
			t.Errorf("server read %d bytes while no reply was read; want at most %d", read, limit)
		}
		if s := sent.Load(); s >= requests {
			t.Errorf("all %d requests were taken while no reply was read", s)
		}
		if g := runtime.NumGoroutine() - baseGoroutines; g > maxInFlight+4 {
			t.Errorf("%d more goroutines under the flood; want at most %d", g, maxInFlight+4)
		}

		// Reading the replies drains the flood: every request is answered.
		for i := 0; i < requests; i++ {
			if _, err := editortest.ReadFrame(out); err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
		}
		if err := inW.Close(); err != nil {
			t.Fatal(err)
		}
		if got := <-code; got != 0 {
			t.Errorf("exit code: got %d, want 0", got)
		}
	})
}

// stuckWriter is stdout as a blocking descriptor the editor no longer
// reads: a Write that fills the pipe blocks in the kernel, and closing
// the file does not interrupt it.
type stuckWriter struct {
	mu      sync.Mutex
	room    int           // bytes taken before writes block
	release chan struct{} // closed at the end of the test
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if len(p) <= w.room {
		w.room -= len(p)
		w.mu.Unlock()
		return len(p), nil
	}
	w.mu.Unlock()
	<-w.release
	return 0, io.ErrClosedPipe
}

func (w *stuckWriter) Close() error { return nil } // interrupts nothing

// TestStopWithAStuckWriter: when the editor stops reading stdout,
// replies and notifications block in Write; stopping the server (SIGTERM
// cancels Run's context) must still return within a bounded grace
// period, and so must the notifications blocked behind the stuck write.
func TestStopWithAStuckWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newFakeService()
		srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth", MaxInFlight: 8})
		if err != nil {
			t.Fatal(err)
		}
		inR, inW := io.Pipe()
		out := &stuckWriter{room: 1 << 10, release: make(chan struct{})}
		defer close(out.release)
		ctx, cancel := context.WithCancel(context.Background())
		code := make(chan int, 1)
		go func() { code <- srv.Run(ctx, svc, inR, out) }()
		go func() {
			_, _ = inW.Write([]byte(frame(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`)))
			for i := 1; i <= 200; i++ {
				if _, err := inW.Write([]byte(frame(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"account/token"}`, i)))); err != nil {
					return
				}
			}
		}()
		synctest.Wait() // the writes are stuck, the reader waits for a slot
		notified := make(chan struct{})
		go func() {
			srv.AccountUpdated(session.AccountUpdated{})
			close(notified)
		}()
		synctest.Wait()

		cancel() // SIGTERM
		start := time.Now()
		select {
		case got := <-code:
			if got != 0 {
				t.Errorf("exit code %d, want 0", got)
			}
		case <-time.After(time.Minute):
			t.Fatalf("Run still running a minute after its context ended, behind a stuck write")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Run returned %v after its context ended; want a bounded grace period (at most 5s)", d)
		}
		select {
		case <-notified:
		case <-time.After(time.Minute):
			t.Fatalf("a notification blocked behind the stuck write never returned")
		}
		_ = inW.Close()
	})
}
