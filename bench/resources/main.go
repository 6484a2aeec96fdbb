// Command resources prints the sidecar's resource figures under load
// (issue 20): the real binary's resident memory (VmRSS, peak VmHWM) and
// threads before and after 1,000 concurrent account/read and 100
// concurrent browser login starts each cancelled, with wall times; and,
// in process, the heap an editor that stops reading stdout costs while
// 10,000 account changes are due, and how many account/updated it hears.
// Run by make bench.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/codex-auth/codex-auth/bench/internal/benchutil"
	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/resources:", err)
		os.Exit(1)
	}
}

func run() error {
	bin, _, err := benchutil.Binaries()
	if err != nil {
		return err
	}
	iss, err := localissuer.New(localissuer.Config{AllowedRedirectPorts: []int{0}})
	if err != nil {
		return err
	}
	base, err := iss.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer iss.Close()
	home, err := os.MkdirTemp("", "codex-auth-resources-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := e2eutil.StartSidecar(ctx, "sidecar", bin, e2eutil.SidecarEnv(home, base))
	if err != nil {
		return err
	}
	defer e2eutil.Stop(p, 10*time.Second)
	fmt.Printf("idle:                        %s\n", procStatus(p.Pid()))

	start := time.Now()
	if err := concurrently(1000, func(int) error { return p.Call(ctx, "account/read", nil, nil) }); err != nil {
		return err
	}
	fmt.Printf("1,000 concurrent account/read: %v; %s\n", time.Since(start).Round(time.Millisecond), procStatus(p.Pid()))

	start = time.Now()
	if err := concurrently(100, func(int) error {
		var r e2eutil.LoginResult
		if err := p.Call(ctx, "account/login/start", map[string]string{"type": "chatgpt"}, &r); err != nil {
			return err
		}
		return p.Call(ctx, "account/login/cancel", map[string]string{"loginId": r.LoginID}, nil)
	}); err != nil {
		return err
	}
	fmt.Printf("100 login starts and cancels:  %v; %s\n", time.Since(start).Round(time.Millisecond), procStatus(p.Pid()))
	return stuckEditor(10000)
}

// concurrently runs n calls of f at once and returns the first error.
func concurrently(n int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// procStatus is the process's resident memory, peak and threads.
func procStatus(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "(no /proc: " + err.Error() + ")"
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		for _, k := range []string{"VmRSS:", "VmHWM:", "Threads:"} {
			if strings.HasPrefix(l, k) {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

// stuckEditor: a server in process whose editor stops reading stdout
// while n account changes are due.
func stuckEditor(n int) error {
	srv, err := rpc.NewServer(rpc.Options{Name: "codex-auth"})
	if err != nil {
		return err
	}
	edEnd, in, out := editortest.Pipes()
	done := make(chan int, 1)
	go func() { done <- srv.Run(context.Background(), nopService{}, in, out) }()
	w := bufio.NewReader(edEnd)
	frame := func(s string) string { return fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(s), s) }
	if _, err := io.WriteString(edEnd, frame(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`)); err != nil {
		return err
	}
	if _, err := editortest.ReadFrame(w); err != nil {
		return err
	}
	if _, err := io.WriteString(edEnd, frame(`{"jsonrpc":"2.0","method":"initialized","params":{}}`)); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond) // initialized is handled
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	start := time.Now()
	for i := range n {
		srv.AccountUpdated(session.AccountUpdated{AuthMode: "chatgpt", Email: fmt.Sprintf("user%d@example.com", i)})
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	heard := 0
	last := fmt.Sprintf("user%d@example.com", n-1)
	for {
		body, err := editortest.ReadFrame(w)
		if err != nil {
			return err
		}
		var m struct {
			Params struct {
				Email string `json:"email"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &m)
		heard++
		if m.Params.Email == last {
			break
		}
	}
	fmt.Printf("editor not reading, %d changes: notifying took %v, heap in use %+d KiB, goroutines %+d; heard %d account/updated once reading\n",
		n, took.Round(time.Microsecond), (int64(after.HeapInuse)-int64(before.HeapInuse))>>10, g1-g0, heard)
	_ = edEnd.Close()
	<-done
	return nil
}

// nopService answers initialize and nothing else: the figure is the
// notifications'.
type nopService struct{ rpc.Service }

func (nopService) SetClient(string, string) {}
