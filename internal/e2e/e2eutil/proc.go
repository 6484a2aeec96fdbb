package e2eutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/codex-auth/codex-auth/internal/editortest"
)

// Framing is how a peer frames its messages.
type Framing = editortest.Framing

// The framings.
const (
	// LSP is Content-Length headers (codex-auth serve).
	LSP = editortest.LSP
	// JSONLines is one JSON object per line (codex app-server).
	JSONLines = editortest.JSONLines
)

// Msg is one message a peer sent, with when it was read (At) and its
// body as sent (Raw).
type Msg = editortest.Message

// RPCError is a JSON-RPC error reply; Call returns it as its error.
type RPCError = editortest.Error

// ErrEnded is returned by waits once the peer's output has ended.
var ErrEnded = editortest.ErrEnded

// Proc is a spawned peer: an editortest.Conn on its stdin and stdout,
// its stderr, and its exit. Its methods are safe for concurrent use.
type Proc struct {
	// Name labels the peer in errors.
	Name    string
	conn    *editortest.Conn
	cmd     *exec.Cmd
	stderr  *Buffer
	exited  chan struct{}
	exitErr error
}

// Buffer is a bytes.Buffer safe for concurrent use (a process's stderr).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Start spawns path with args and env and starts reading its stdout in
// the given framing. The process is not tied to a context: stop it with
// CloseStdin, Signal or Kill, and Wait for it.
func Start(name string, framing Framing, path string, args, env []string) (*Proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, cmd: cmd, stderr: &Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	setGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p.conn = editortest.NewConn(stdout, stdin, editortest.Options{Framing: framing, Name: name})
	go func() {
		<-p.conn.Done() // Wait closes stdout: read it all first
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Conn is the JSON-RPC connection on the process's stdio.
func (p *Proc) Conn() *editortest.Conn { return p.conn }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stderr is what the process wrote on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// CloseStdin closes the process's stdin (end of input).
func (p *Proc) CloseStdin() error { return p.conn.Close() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill kills the process and its process group and waits for it.
func (p *Proc) Kill() {
	killGroup(p.cmd)
	<-p.exited
}

// Exited is closed once the process has exited and its output is read.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Wait waits for the process to exit and returns its exit code (-1 when
// killed by a signal).
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.exited:
	case <-ctx.Done():
		return 0, fmt.Errorf("%s did not exit: %w", p.Name, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case p.exitErr == nil:
		return 0, nil
	case errors.As(p.exitErr, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1, nil
		}
		return ee.ExitCode(), nil
	}
	return 0, p.exitErr
}

// Call sends a request with the next numeric id and waits for its reply;
// an error reply is returned as *RPCError. result may be nil.
func (p *Proc) Call(ctx context.Context, method string, params, result any) error {
	return p.conn.Call(ctx, method, params, result)
}

// Send sends a request with the next numeric id without waiting.
func (p *Proc) Send(method string, params any) (json.RawMessage, error) {
	return p.conn.Request(method, params)
}

// SendID sends a request with a chosen id; it returns the id as JSON.
func (p *Proc) SendID(id any, method string, params any) (json.RawMessage, error) {
	return p.conn.SendRequest(id, method, params)
}

// Notify sends a notification.
func (p *Proc) Notify(method string, params any) error { return p.conn.Notify(method, params) }

// Reply waits for the reply to id and decodes its result into result.
func (p *Proc) Reply(ctx context.Context, id json.RawMessage, result any) error {
	return p.conn.Reply(ctx, id, result)
}

// Handle sets the handler for the peer's requests of method (without
// one, a request is answered with method-not-found).
func (p *Proc) Handle(method string, h editortest.Handler) { p.conn.Handle(method, h) }

// Len is the number of messages received so far: a mark for WaitFrom.
func (p *Proc) Len() int { return p.conn.Len() }

// WaitFrom waits for a message satisfying pred among those received from
// index from on (0: all), and returns it and its index.
func (p *Proc) WaitFrom(ctx context.Context, from int, pred func(Msg) bool) (Msg, int, error) {
	return p.conn.WaitFrom(ctx, from, pred)
}

// WaitNotification waits for a notification of method, received at index
// from or later, whose params satisfy pred (nil accepts any).
func (p *Proc) WaitNotification(ctx context.Context, from int, method string, pred func(json.RawMessage) bool) (Msg, error) {
	return p.conn.WaitNotification(ctx, from, method, pred)
}

// Messages returns every message received so far.
func (p *Proc) Messages() []Msg { return p.conn.Messages() }

// Transcript is every message both ways, in order, one per line. It holds
// whatever the peer sent, secrets included: print it only for test
// credentials, or redacted.
func (p *Proc) Transcript() string { return p.conn.Transcript() }

// ReadFrame reads one Content-Length framed body strictly (the fake
// editor's reader: what the sidecar writes must always be well-formed).
func ReadFrame(r *bufio.Reader) ([]byte, error) { return editortest.ReadFrame(r) }
