package editortest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Message is one message the peer sent, as read.
type Message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
	// At is when the message was read.
	At time.Time `json:"-"`
	// Raw is the message's body as sent, never redacted.
	Raw []byte `json:"-"`
}

// IsNotification reports whether m is a notification.
func (m Message) IsNotification() bool { return m.Method != "" && m.ID == nil }

// Error is a JSON-RPC error reply; Call returns it as its error.
type Error struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("jsonrpc error %d: %s", e.Code, e.Message) }

// Handler answers a request from the peer: a result, or an *Error (any
// other error is answered as -32603).
type Handler func(params json.RawMessage) (any, error)

// ErrEnded is returned by waits once the peer's output has ended.
var ErrEnded = errors.New("editortest: the peer's output ended")

// Dir is the direction of a transcript entry.
type Dir int

// The directions.
const (
	// Sent is from the editor to the peer ("->" in the transcript).
	Sent Dir = iota
	// Received is from the peer to the editor ("<-").
	Received
)

func (d Dir) String() string {
	if d == Received {
		return "<-"
	}
	return "->"
}

// Options configure a Conn.
type Options struct {
	// Framing is LSP (the zero value) or JSONLines.
	Framing Framing
	// Name labels the peer in errors ("editortest" when empty).
	Name string
	// Redact rewrites a body before it enters the transcript or Trace
	// (e.g. masking secrets); nil keeps it as is. Messages keep their
	// raw bytes.
	Redact func(body []byte) []byte
	// Trace, when set, sees every transcript entry as it is recorded
	// (after Redact), in transcript order. It must not call the Conn.
	Trace func(dir Dir, body []byte)
}

// Conn is a JSON-RPC client over a peer's output (read) and input
// (written). Its methods are safe for concurrent use.
type Conn struct {
	opts Options
	w    io.Writer

	wmu chan struct{} // write lock (a channel: durably blocking under synctest)

	mu         sync.Mutex
	msgs       []Message
	changed    chan struct{} // closed and replaced on every new message and at the end
	transcript []string
	handlers   map[string]Handler
	seq        int
	readErr    error
	done       chan struct{}
}

// NewConn starts reading the peer's output from r and writes the peer's
// input to w. Close closes w when it is an io.Closer.
func NewConn(r io.Reader, w io.Writer, opts Options) *Conn {
	c := &Conn{
		opts:     opts,
		w:        w,
		wmu:      make(chan struct{}, 1),
		changed:  make(chan struct{}),
		handlers: map[string]Handler{},
		done:     make(chan struct{}),
	}
	go c.readLoop(bufio.NewReaderSize(r, 64<<10))
	return c
}

// Close closes the peer's input (the peer then sees end of input).
func (c *Conn) Close() error {
	if cl, ok := c.w.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Done is closed when the peer's output has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Handle sets the handler for the peer's requests of method (nil removes
// it; requests without a handler get -32601).
func (c *Conn) Handle(method string, h Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == nil {
		delete(c.handlers, method)
		return
	}
	c.handlers[method] = h
}

func (c *Conn) nextID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return c.seq
}

func (c *Conn) prefix() string {
	if c.opts.Name != "" {
		return c.opts.Name
	}
	return "editortest"
}

// Call sends a request with the next numeric id and waits for its reply.
// An error reply is returned as *Error; result may be nil.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	return c.CallID(ctx, c.nextID(), method, params, result)
}

// CallID is Call with a chosen id (a number or a string). Only a reply
// read after the request was sent answers it.
func (c *Conn) CallID(ctx context.Context, id any, method string, params, result any) error {
	from := c.Len()
	rawID, err := c.SendRequest(id, method, params)
	if err != nil {
		return err
	}
	return c.reply(ctx, from, rawID, result)
}

// Request sends a request with the next numeric id without waiting; it
// returns the id as JSON.
func (c *Conn) Request(method string, params any) (json.RawMessage, error) {
	return c.SendRequest(c.nextID(), method, params)
}

// SendRequest sends a request with a chosen id without waiting; it
// returns the id as JSON.
func (c *Conn) SendRequest(id any, method string, params any) (json.RawMessage, error) {
	rawID, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	msg := map[string]any{"id": json.RawMessage(rawID), "method": method}
	if params != nil {
		msg["params"] = params
	}
	return rawID, c.sendMessage(msg)
}

// Reply waits for the reply to id (among every message received so far
// or later) and decodes its result into result; an error reply is
// returned as *Error.
func (c *Conn) Reply(ctx context.Context, id json.RawMessage, result any) error {
	return c.reply(ctx, 0, id, result)
}

func (c *Conn) reply(ctx context.Context, from int, id json.RawMessage, result any) error {
	m, _, err := c.WaitFrom(ctx, from, func(m Message) bool {
		return m.Method == "" && bytes.Equal(m.ID, id)
	})
	if err != nil {
		return fmt.Errorf("%s: waiting for the reply to %s: %w", c.prefix(), id, err)
	}
	if m.Error != nil {
		return m.Error
	}
	if result != nil {
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("%s: decoding the result of %s: %w", c.prefix(), id, err)
		}
	}
	return nil
}

// Notify sends a notification.
func (c *Conn) Notify(method string, params any) error {
	msg := map[string]any{"method": method}
	if params != nil {
		msg["params"] = params
	}
	return c.sendMessage(msg)
}

// sendMessage adds "jsonrpc" (LSP framing only) and sends msg.
func (c *Conn) sendMessage(msg map[string]any) error {
	if c.opts.Framing == LSP {
		msg["jsonrpc"] = "2.0"
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return c.Send(body)
}

// Send frames body and writes it, as is (no "jsonrpc" is added).
func (c *Conn) Send(body []byte) error {
	c.record(Sent, body, false)
	return c.write(c.opts.Framing.frame(body))
}

// WriteRaw writes b as is (for bad framing); the transcript shows it quoted.
func (c *Conn) WriteRaw(b []byte) error {
	c.record(Sent, b, true)
	return c.write(b)
}

func (c *Conn) write(b []byte) error {
	c.wmu <- struct{}{}
	defer func() { <-c.wmu }()
	_, err := c.w.Write(b)
	return err
}

// WaitFor waits for a notification of method whose params satisfy pred
// (nil accepts any) among all received so far or later, and returns its
// params.
func (c *Conn) WaitFor(ctx context.Context, method string, pred func(params json.RawMessage) bool) (json.RawMessage, error) {
	m, err := c.WaitNotification(ctx, 0, method, pred)
	return m.Params, err
}

// WaitNotification waits for a notification of method, received at
// index from or later, whose params satisfy pred (nil accepts any).
func (c *Conn) WaitNotification(ctx context.Context, from int, method string, pred func(json.RawMessage) bool) (Message, error) {
	m, _, err := c.WaitFrom(ctx, from, func(m Message) bool {
		return m.IsNotification() && m.Method == method && (pred == nil || pred(m.Params))
	})
	if err != nil {
		return m, fmt.Errorf("%s: waiting for %s: %w", c.prefix(), method, err)
	}
	return m, nil
}

// WaitMessage waits for any message from the peer satisfying pred,
// among all received so far or later.
func (c *Conn) WaitMessage(ctx context.Context, pred func(Message) bool) (Message, error) {
	m, _, err := c.WaitFrom(ctx, 0, pred)
	return m, err
}

// WaitFrom waits for a message satisfying pred among those received from
// index from on (0: all; Len gives a mark), and returns it and its index.
// pred runs without the Conn's lock, so it may call the Conn's methods.
func (c *Conn) WaitFrom(ctx context.Context, from int, pred func(Message) bool) (Message, int, error) {
	for {
		c.mu.Lock()
		msgs, changed, readErr := c.msgs, c.changed, c.readErr
		c.mu.Unlock()
		for i := from; i < len(msgs); i++ {
			if pred(msgs[i]) {
				return msgs[i], i, nil
			}
		}
		if readErr != nil {
			return Message{}, 0, fmt.Errorf("%w (%v)", ErrEnded, readErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Message{}, 0, ctx.Err()
		}
	}
}

// Len is the number of messages received so far: a mark for WaitFrom.
func (c *Conn) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// Messages returns every message received so far.
func (c *Conn) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Transcript is every message both ways, in order, one per line: "-> "
// and the body for what was sent, "<- " for what was received, "-> raw "
// and the bytes quoted for raw writes. Bodies pass through Options.Redact.
func (c *Conn) Transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.transcript, "\n")
}

// record adds a transcript entry; the caller must not hold mu.
func (c *Conn) record(dir Dir, body []byte, raw bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recordLocked(dir, body, raw)
}

func (c *Conn) recordLocked(dir Dir, body []byte, raw bool) {
	if c.opts.Redact != nil {
		body = c.opts.Redact(body)
	}
	line := dir.String() + " " + string(body)
	if raw {
		line = fmt.Sprintf("%s raw %q", dir, body)
	}
	c.transcript = append(c.transcript, line)
	if c.opts.Trace != nil {
		c.opts.Trace(dir, body)
	}
}

// readLoop reads the peer's messages until its output ends, and answers
// its requests.
func (c *Conn) readLoop(r *bufio.Reader) {
	err := func() error {
		for {
			body, err := c.opts.Framing.read(r)
			if err != nil {
				return err
			}
			m := Message{At: time.Now(), Raw: body}
			if err := json.Unmarshal(body, &m); err != nil {
				if c.opts.Framing == JSONLines {
					continue // not a message: ignore it
				}
				return fmt.Errorf("the peer sent a frame that is not a JSON-RPC message: %w", err)
			}
			c.mu.Lock()
			c.recordLocked(Received, body, false)
			c.msgs = append(c.msgs, m)
			close(c.changed)
			c.changed = make(chan struct{})
			h := c.handlers[m.Method]
			c.mu.Unlock()
			if m.Method != "" && m.ID != nil {
				go c.answer(m, h)
			}
		}
	}()
	c.mu.Lock()
	c.readErr = err
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	close(c.done)
}

// answer replies to the peer's request with its handler.
func (c *Conn) answer(m Message, h Handler) {
	reply := map[string]any{"id": m.ID}
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
	_ = c.sendMessage(reply)
}
