// Package e2eutil drives real processes for the end-to-end tests and the
// benchmark programs: the codex-auth sidecar (LSP framing) and the Codex
// app-server (JSON lines) as JSON-RPC peers whose messages are recorded
// with their arrival times, the local issuer, a fake browser, and the
// auth.json they share. It frames messages on its own, independently of
// package rpc, so a framing bug there cannot hide itself.
package e2eutil

// proc.go: a spawned JSON-RPC peer (Proc), its framing, calls and waits.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/codex-auth/codex-auth/internal/editortest"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Framing is how a peer frames its messages.
type Framing int

// The framings.
const (
	// LSP is Content-Length headers (codex-auth serve).
	LSP Framing = iota
	// JSONLines is one JSON object per line (codex app-server).
	JSONLines
)

// Msg is one message a peer sent, with when it was read.
type Msg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *RPCError       `json:"error,omitempty"`
	// At is when the message was read.
	At time.Time `json:"-"`
	// Raw is the frame's body as sent.
	Raw []byte `json:"-"`
}

// IsNotification reports whether m is a notification.
func (m Msg) IsNotification() bool { return m.Method != "" && m.ID == nil }

// RPCError is a JSON-RPC error reply; Call returns it as its error.
type RPCError struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message) }

// ErrEnded is returned by waits once the peer's output has ended.
var ErrEnded = errors.New("e2eutil: the peer's output ended")

// Proc is a spawned peer. Its methods are safe for concurrent use.
type Proc struct {
	// Name labels the peer in transcripts.
	Name    string
	framing Framing
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *Buffer
	wmu     sync.Mutex
	exited  chan struct{}
	exitErr error

	mu         sync.Mutex
	msgs       []Msg
	changed    chan struct{}
	transcript []string
	seq        int
	readErr    error
	done       chan struct{}
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
	p := &Proc{
		Name: name, framing: framing, cmd: cmd, stdin: stdin, stderr: &Buffer{},
		exited: make(chan struct{}), changed: make(chan struct{}), done: make(chan struct{}),
	}
	cmd.Stderr = p.stderr
	setGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go p.readLoop(bufio.NewReaderSize(stdout, 64<<10))
	go func() {
		<-p.done // Wait closes stdout: read it all first
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stderr is what the process wrote on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// CloseStdin closes the process's stdin (end of input).
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

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
	id, err := p.Send(method, params)
	if err != nil {
		return err
	}
	return p.Reply(ctx, id, result)
}

// Send sends a request with the next numeric id without waiting.
func (p *Proc) Send(method string, params any) (json.RawMessage, error) {
	p.mu.Lock()
	p.seq++
	id := p.seq
	p.mu.Unlock()
	return p.SendID(id, method, params)
}

// SendID sends a request with a chosen id; it returns the id as JSON.
func (p *Proc) SendID(id any, method string, params any) (json.RawMessage, error) {
	rawID, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	msg := map[string]any{"id": json.RawMessage(rawID), "method": method}
	if params != nil {
		msg["params"] = params
	}
	return rawID, p.write(msg)
}

// Notify sends a notification.
func (p *Proc) Notify(method string, params any) error {
	msg := map[string]any{"method": method}
	if params != nil {
		msg["params"] = params
	}
	return p.write(msg)
}

// Reply waits for the reply to id and decodes its result into result.
func (p *Proc) Reply(ctx context.Context, id json.RawMessage, result any) error {
	m, _, err := p.WaitFrom(ctx, 0, func(m Msg) bool { return m.Method == "" && bytes.Equal(m.ID, id) })
	if err != nil {
		return fmt.Errorf("%s: waiting for the reply to %s: %w", p.Name, id, err)
	}
	if m.Error != nil {
		return m.Error
	}
	if result != nil {
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("%s: decoding the result of %s: %w", p.Name, id, err)
		}
	}
	return nil
}

func (p *Proc) write(msg map[string]any) error {
	if p.framing == LSP {
		msg["jsonrpc"] = "2.0"
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	p.record("-> " + string(body))
	var frame []byte
	if p.framing == LSP {
		frame = append([]byte("Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
	} else {
		frame = append(body, '\n')
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err = p.stdin.Write(frame)
	return err
}

// Len is the number of messages received so far: a mark for WaitFrom.
func (p *Proc) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

// WaitFrom waits for a message satisfying pred among those received from
// index from on (0: all), and returns it and its index.
func (p *Proc) WaitFrom(ctx context.Context, from int, pred func(Msg) bool) (Msg, int, error) {
	for {
		p.mu.Lock()
		for i := from; i < len(p.msgs); i++ {
			if pred(p.msgs[i]) {
				m := p.msgs[i]
				p.mu.Unlock()
				return m, i, nil
			}
		}
		from = max(from, len(p.msgs))
		changed, readErr := p.changed, p.readErr
		p.mu.Unlock()
		if readErr != nil {
			return Msg{}, 0, fmt.Errorf("%w (%v)", ErrEnded, readErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Msg{}, 0, ctx.Err()
		}
	}
}

// WaitNotification waits for a notification of method, received at index
// from or later, whose params satisfy pred (nil accepts any).
func (p *Proc) WaitNotification(ctx context.Context, from int, method string, pred func(json.RawMessage) bool) (Msg, error) {
	m, _, err := p.WaitFrom(ctx, from, func(m Msg) bool {
		return m.IsNotification() && m.Method == method && (pred == nil || pred(m.Params))
	})
	if err != nil {
		return m, fmt.Errorf("%s: waiting for %s: %w", p.Name, method, err)
	}
	return m, nil
}

// Messages returns every message received so far.
func (p *Proc) Messages() []Msg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Msg(nil), p.msgs...)
}

// Transcript is every message both ways, in order, one per line. It holds
// whatever the peer sent, secrets included: print it only for test
// credentials.
func (p *Proc) Transcript() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.transcript, "\n")
}

func (p *Proc) record(line string) {
	p.mu.Lock()
	p.transcript = append(p.transcript, line)
	p.mu.Unlock()
}

// readLoop reads the peer's messages until its output ends. A server
// request is answered with method-not-found (no handler here).
func (p *Proc) readLoop(r *bufio.Reader) {
	err := func() error {
		for {
			var body []byte
			var err error
			if p.framing == LSP {
				body, err = ReadFrame(r)
			} else {
				body, err = readLine(r)
			}
			if err != nil {
				return err
			}
			at := time.Now()
			var m Msg
			if err := json.Unmarshal(body, &m); err != nil {
				if p.framing == JSONLines {
					continue // not a message: ignore it (Codex may log)
				}
				return fmt.Errorf("the peer sent a frame that is not a JSON-RPC message: %w", err)
			}
			m.At, m.Raw = at, body
			p.mu.Lock()
			p.transcript = append(p.transcript, "<- "+string(body))
			p.msgs = append(p.msgs, m)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
			if m.Method != "" && m.ID != nil {
				go func() {
					reply := map[string]any{"id": m.ID, "error": &RPCError{Code: -32601, Message: "method not found: " + m.Method}}
					_ = p.write(reply)
				}()
			}
		}
	}()
	p.mu.Lock()
	p.readErr = err
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

func readLine(r *bufio.Reader) ([]byte, error) {
	for {
		line, err := r.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			return line, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// ReadFrame reads one Content-Length framed body strictly (the fake
// editor's reader: what the sidecar writes must always be well-formed).
func ReadFrame(r *bufio.Reader) ([]byte, error) { return editortest.ReadFrame(r) }
