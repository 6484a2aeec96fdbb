// Package editortest is a fake editor for tests of the codex-auth
// sidecar: it speaks JSON-RPC with LSP framing over pipes or a spawned
// process's stdio, records every message, answers the server's requests
// (window/showDocument) with settable handlers, and waits on conditions,
// never on sleeps. The transcript is printed only when the test fails.
//
// It frames messages on its own, independently of package rpc, so a bug
// in rpc's framing cannot hide itself.
package editortest

// editortest.go: the Editor.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Message is one message the server sent, as read.
type Message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// IsNotification reports whether m is a notification.
func (m Message) IsNotification() bool { return m.Method != "" && m.ID == nil }

// Error is a JSON-RPC error reply; Call returns it as its error.
type Error struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message) }

// Handler answers a request from the server: a result, or an *Error.
type Handler func(params json.RawMessage) (any, error)

// ErrEnded is returned by waits once the server's output has ended.
var ErrEnded = errors.New("editortest: the server's output ended")

// Editor is the fake editor. Its methods are safe for concurrent use.
type Editor struct {
	t testing.TB
	w io.Writer
	c io.Closer

	wmu chan struct{} // write lock (a channel: durably blocking under synctest)

	mu         sync.Mutex
	msgs       []Message
	changed    chan struct{} // closed and replaced on every new message
	transcript []string
	handlers   map[string]Handler
	seq        int
	readErr    error
	done       chan struct{}
}

// New starts a fake editor on rw: it reads the server's output from rw and
// writes the server's input to it; Close closes rw (the server then sees
// end of input). The transcript is logged when t fails.
func New(t testing.TB, rw io.ReadWriteCloser) *Editor {
	e := &Editor{
		t:        t,
		w:        rw,
		c:        rw,
		wmu:      make(chan struct{}, 1),
		changed:  make(chan struct{}),
		handlers: map[string]Handler{},
		done:     make(chan struct{}),
	}
	go e.readLoop(bufio.NewReader(rw))
	t.Cleanup(func() {
		_ = e.Close()
		if t.Failed() {
			t.Logf("JSON-RPC transcript (-> editor to server, <- server to editor):\n%s", e.Transcript())
		}
	})
	return e
}

// Pipes returns in-memory pipes: the editor's end, and the server's input
// and output to pass to rpc.Server.Run.
func Pipes() (editor io.ReadWriteCloser, serverIn io.ReadCloser, serverOut io.WriteCloser) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	return Join(outR, inW), inR, outW
}

// Join makes one ReadWriteCloser of the server's output r and its input w
// (e.g. a spawned process's stdout and stdin pipes); Close closes w.
func Join(r io.Reader, w io.WriteCloser) io.ReadWriteCloser {
	return joined{r, w}
}

type joined struct {
	io.Reader
	io.WriteCloser
}

// Close closes the server's input.
func (e *Editor) Close() error { return e.c.Close() }

// Done is closed when the server's output has ended.
func (e *Editor) Done() <-chan struct{} { return e.done }

// Handle sets the handler for server requests of method (nil removes it;
// requests without a handler get -32601).
func (e *Editor) Handle(method string, h Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h == nil {
		delete(e.handlers, method)
		return
	}
	e.handlers[method] = h
}

// Call sends a request with the next numeric id and waits for its reply.
// An error reply is returned as *Error; result may be nil.
func (e *Editor) Call(ctx context.Context, method string, params, result any) error {
	e.mu.Lock()
	e.seq++
	id := e.seq
	e.mu.Unlock()
	return e.CallID(ctx, id, method, params, result)
}

// CallID is Call with a chosen id (a number or a string).
func (e *Editor) CallID(ctx context.Context, id any, method string, params, result any) error {
	rawID, err := e.SendRequest(id, method, params)
	if err != nil {
		return err
	}
	return e.Reply(ctx, rawID, result)
}

// SendRequest sends a request without waiting; it returns the id as JSON.
func (e *Editor) SendRequest(id any, method string, params any) (json.RawMessage, error) {
	rawID, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	msg := map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(rawID), "method": method}
	if params != nil {
		msg["params"] = params
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return rawID, e.Send(body)
}

// Reply waits for the reply to id and decodes it into result.
func (e *Editor) Reply(ctx context.Context, id json.RawMessage, result any) error {
	m, err := e.WaitMessage(ctx, func(m Message) bool {
		return m.Method == "" && bytes.Equal(m.ID, id)
	})
	if err != nil {
		return err
	}
	if m.Error != nil {
		return m.Error
	}
	if result != nil {
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("editortest: decoding the result of %s: %w", id, err)
		}
	}
	return nil
}

// Notify sends a notification.
func (e *Editor) Notify(method string, params any) error {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return e.Send(body)
}

// Send frames body with a Content-Length header and writes it.
func (e *Editor) Send(body []byte) error {
	e.record("-> " + string(body))
	return e.write([]byte("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)))
}

// WriteRaw writes b as is (for bad framing); the transcript shows it quoted.
func (e *Editor) WriteRaw(b []byte) error {
	e.record(fmt.Sprintf("-> raw %q", b))
	return e.write(b)
}

func (e *Editor) write(b []byte) error {
	e.wmu <- struct{}{}
	defer func() { <-e.wmu }()
	_, err := e.w.Write(b)
	return err
}

// WaitFor waits for a notification of method whose params satisfy pred
// (nil accepts any) among all received so far or later, and returns its
// params.
func (e *Editor) WaitFor(ctx context.Context, method string, pred func(params json.RawMessage) bool) (json.RawMessage, error) {
	m, err := e.WaitMessage(ctx, func(m Message) bool {
		return m.IsNotification() && m.Method == method && (pred == nil || pred(m.Params))
	})
	return m.Params, err
}

// WaitMessage waits for any message from the server satisfying pred,
// among all received so far or later. pred may call the Editor's methods.
func (e *Editor) WaitMessage(ctx context.Context, pred func(Message) bool) (Message, error) {
	for {
		e.mu.Lock()
		msgs, changed, readErr := e.msgs, e.changed, e.readErr
		e.mu.Unlock()
		// pred runs without the lock: it may call the Editor's methods.
		for _, m := range msgs {
			if pred(m) {
				return m, nil
			}
		}
		if readErr != nil {
			return Message{}, fmt.Errorf("%w (%v)", ErrEnded, readErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Messages returns every message received so far.
func (e *Editor) Messages() []Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Message(nil), e.msgs...)
}

// Transcript is every frame both ways, in order, one per line.
func (e *Editor) Transcript() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.transcript, "\n")
}

func (e *Editor) record(line string) {
	e.mu.Lock()
	e.transcript = append(e.transcript, line)
	e.mu.Unlock()
}

// readLoop reads the server's frames until its output ends.
func (e *Editor) readLoop(r *bufio.Reader) {
	err := func() error {
		for {
			body, err := ReadFrame(r)
			if err != nil {
				return err
			}
			var m Message
			if err := json.Unmarshal(body, &m); err != nil {
				return fmt.Errorf("server sent a frame that is not a JSON-RPC message: %w", err)
			}
			e.mu.Lock()
			e.transcript = append(e.transcript, "<- "+string(body))
			e.msgs = append(e.msgs, m)
			close(e.changed)
			e.changed = make(chan struct{})
			h := e.handlers[m.Method]
			e.mu.Unlock()
			if m.Method != "" && m.ID != nil {
				go e.answer(m, h)
			}
		}
	}()
	e.mu.Lock()
	e.readErr = err
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
	close(e.done)
}

// answer replies to a server request with its handler.
func (e *Editor) answer(m Message, h Handler) {
	reply := map[string]any{"jsonrpc": "2.0", "id": m.ID}
	if h == nil {
		reply["error"] = &Error{Code: -32601, Message: "method not found: " + m.Method}
	} else if res, err := h(m.Params); err != nil {
		var je *Error
		if !errors.As(err, &je) {
			je = &Error{Code: -32603, Message: err.Error()}
		}
		reply["error"] = je
	} else {
		reply["result"] = res
	}
	body, err := json.Marshal(reply)
	if err != nil {
		return
	}
	_ = e.Send(body)
}

// ReadFrame reads one Content-Length framed body strictly: what the
// server writes must always be well-formed. io.EOF at a frame boundary
// is returned as is.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	length := -1
	for first := true; ; first = false {
		line, err := r.ReadString('\n')
		if err != nil {
			if first && err == io.EOF && line == "" {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("reading a header: %w", err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			return nil, fmt.Errorf("header line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", line)
		}
		if strings.EqualFold(name, "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		}
	}
	if length < 0 {
		return nil, errors.New("frame without Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading a body of %d bytes: %w", length, err)
	}
	return body, nil
}
