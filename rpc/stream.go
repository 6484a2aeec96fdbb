package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.lsp.dev/jsonrpc2"
)

// DefaultMaxMessageBytes is the default cap on a message body (1 MiB).
const DefaultMaxMessageBytes = 1 << 20

// maxHeaderLine bounds one header line; a longer one is malformed.
const maxHeaderLine = 4096

// contentLength is the one header we need (LSP base protocol, "Header
// Part"); header names compare case-insensitively as in RFC 9110 section 5.1.
const contentLength = "content-length"

// ErrClosed is returned by Stream.Write after Close.
var ErrClosed = errors.New("rpc: stream closed")

// StreamOptions configure NewStream.
type StreamOptions struct {
	// MaxMessageBytes caps a message body; 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Logger receives framing problems (never message bytes); nil discards.
	Logger *slog.Logger
}

// Stream is codex-auth's jsonrpc2.Stream over LSP's Content-Length framing.
//
// Unlike jsonrpc2.NewStream it never allocates more than the cap for a
// body (a longer body is skipped without being held), it answers a body
// that is not a valid JSON-RPC message itself (-32700 or -32600) and goes
// on, it resynchronises after a malformed header at the next
// "Content-Length:" it sees, and Read returns an error only at end of
// input. Writes are serialised, so any goroutine may call Write.
type Stream struct {
	in        *bufio.Reader
	inCloser  io.Closer
	out       io.Writer
	outCloser io.Closer
	max       int
	log       *slog.Logger

	// wmu is the write lock: a channel rather than a sync.Mutex so that a
	// writer waiting for it is durably blocked under testing/synctest. It
	// is held for as long as out.Write runs, by the goroutine running it
	// (see writeFrame), even after the caller stopped waiting.
	wmu  chan struct{}
	done chan struct{}
	// closing is set by the first Close; closed is closed when that
	// Close has finished (later calls wait for it on a channel, not on a
	// lock, so a Close waiting for a stuck write blocks nobody else).
	closing  atomic.Bool
	closed   chan struct{}
	closeErr error
}

var _ jsonrpc2.Stream = (*Stream)(nil)

// NewStream frames messages read from in and written to out. Close closes
// in and out when they are io.Closers.
func NewStream(in io.Reader, out io.Writer, opts StreamOptions) *Stream {
	s := &Stream{
		in:     bufio.NewReaderSize(in, maxHeaderLine),
		out:    out,
		max:    opts.MaxMessageBytes,
		log:    opts.Logger,
		wmu:    make(chan struct{}, 1),
		done:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	if s.max <= 0 {
		s.max = DefaultMaxMessageBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.inCloser, _ = in.(io.Closer)
	s.outCloser, _ = out.(io.Closer)
	return s
}

// Read returns the next valid message. Bad input is answered or logged and
// skipped; the error is non-nil only at end of input (io.EOF, a truncated
// last message, or a closed or failed reader).
func (s *Stream) Read(ctx context.Context) (jsonrpc2.Message, int64, error) {
	var total int64
	resync := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, total, err
		}
		length, ok, err := s.readHeader(&total, &resync)
		if err != nil {
			return nil, total, err
		}
		if !ok {
			continue
		}
		if length > int64(s.max) {
			n, err := io.CopyN(io.Discard, s.in, length)
			total += n
			if err != nil {
				s.log.Warn("truncated message at end of input", "length", length, "read", n)
				return nil, total, io.ErrUnexpectedEOF
			}
			s.log.Warn("message over the size limit skipped", "length", length, "limit", s.max)
			s.answer(nil, newError(CodeInvalidRequest, "message of %d bytes exceeds the limit of %d bytes", length, s.max))
			continue
		}
		body := make([]byte, length)
		n, err := io.ReadFull(s.in, body)
		total += int64(n)
		if err != nil {
			s.log.Warn("truncated message at end of input", "length", length, "read", n)
			return nil, total, io.ErrUnexpectedEOF
		}
		msg, id, werr := decodeMessage(body)
		if werr != nil {
			s.log.Debug("invalid message answered", "code", werr.Code, "error", werr.Message)
			s.answer(id, werr)
			continue
		}
		if msg == nil {
			s.log.Warn("response without a usable id or error dropped")
			continue
		}
		return msg, total, nil
	}
}

// readHeader reads one header block. ok is false after a malformed header
// (logged; *resync is then set and the next call first skips input up to
// the next "Content-Length:"). err is non-nil only at end of input.
func (s *Stream) readHeader(total *int64, resync *bool) (length int64, ok bool, err error) {
	length = -1
	seen := false
	for {
		var line string
		if *resync {
			skipped, err := s.skipToContentLength()
			*total += skipped
			if err != nil {
				return 0, false, err
			}
			*resync = false
			s.log.Info("resynchronised at Content-Length", "skipped", skipped)
			rest, err := s.readLine(total)
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return 0, false, err
			}
			line = "Content-Length:" + rest
		} else {
			line, err = s.readLine(total)
			if errors.Is(err, bufio.ErrBufferFull) {
				s.log.Warn("malformed header: line too long")
				*resync = true
				return 0, false, nil
			}
			if err != nil {
				if seen || line != "" {
					s.log.Warn("truncated header at end of input")
				}
				return 0, false, err
			}
		}
		if line == "" {
			if !seen {
				continue // blank lines between messages are harmless
			}
			if length < 0 {
				s.log.Warn("malformed header: no Content-Length")
				*resync = true
				return 0, false, nil
			}
			return length, true, nil
		}
		seen = true
		name, value, found := strings.Cut(line, ":")
		if !found {
			s.log.Warn("malformed header: line without a colon")
			*resync = true
			return 0, false, nil
		}
		if strings.EqualFold(strings.TrimSpace(name), contentLength) {
			n, perr := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			if perr != nil || n < 0 {
				s.log.Warn("malformed header: Content-Length is not a non-negative integer")
				*resync = true
				return 0, false, nil
			}
			length = n
		}
		// Other headers (Content-Type) are ignored, as LSP allows.
	}
}

// readLine reads up to '\n' and returns the line without "\r\n". A line
// longer than the buffer returns bufio.ErrBufferFull with the rest unread.
func (s *Stream) readLine(total *int64) (string, error) {
	b, err := s.in.ReadSlice('\n')
	*total += int64(len(b))
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
		if err == io.EOF && len(b) > 0 {
			return string(b), io.ErrUnexpectedEOF
		}
		return string(b), err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// skipToContentLength discards input up to and including the next
// "Content-Length:" (case-insensitive), wherever it is: after a malformed
// header the next frame usually starts right after the body, mid-line.
func (s *Stream) skipToContentLength() (int64, error) {
	const want = contentLength + ":"
	var n int64
	matched := 0
	for {
		c, err := s.in.ReadByte()
		if err != nil {
			return n, err
		}
		n++
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case c == want[matched]:
			matched++
			if matched == len(want) {
				return n, nil
			}
		case c == want[0]: // 'c' occurs only first in the pattern
			matched = 1
		default:
			matched = 0
		}
	}
}

// errorFrame is an error reply the stream writes itself.
type errorFrame struct {
	JSONRPC string          `json:"jsonrpc"`
	Error   wireErrorObject `json:"error"`
	ID      json.RawMessage `json:"id"`
}

type wireErrorObject struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

// answer writes an error reply for a message that never reached the Conn.
// id is the raw id when it could be read, else nil (sent as null, as
// JSON-RPC 2.0 section 5 requires).
func (s *Stream) answer(id json.RawMessage, e *jsonrpc2.Error) {
	if id == nil {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(errorFrame{JSONRPC: "2.0", Error: wireErrorObject{Code: int64(e.Code), Message: e.Message}, ID: id})
	if err != nil {
		s.log.Error("encoding an error reply", "err", err)
		return
	}
	if err := s.writeFrame(b); err != nil {
		s.log.Debug("error reply not sent", "err", err)
	}
}

// Write sends one message. It blocks until the reader takes the bytes or
// the stream is closed, whichever comes first, even when out is a
// blocking descriptor that closing does not interrupt (see writeFrame).
func (s *Stream) Write(ctx context.Context, msg jsonrpc2.Message) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m, ok := msg.(json.Marshaler)
	if !ok {
		return 0, fmt.Errorf("rpc: cannot encode %T", msg)
	}
	b, err := m.MarshalJSON()
	if err != nil {
		return 0, fmt.Errorf("rpc: encoding message: %w", err)
	}
	if err := s.writeFrame(b); err != nil {
		return 0, err
	}
	return int64(len(b)), nil
}

// writeFrame writes header and body in one Write under the write lock.
//
// The Write runs on a goroutine of its own, which holds the write lock
// until out.Write returns, while the caller waits for it or for Close:
// when the editor stops reading stdout (a blocking pipe, which closing
// does not interrupt), a reply or notification then gives up at Close
// instead of keeping Run (and Manager.Close) waiting forever, and frames
// never interleave, since the next writer waits for the lock.
func (s *Stream) writeFrame(body []byte) error {
	select {
	case s.wmu <- struct{}{}:
	case <-s.done:
		return ErrClosed
	}
	select {
	case <-s.done:
		<-s.wmu
		return ErrClosed
	default:
	}
	buf := make([]byte, 0, len(body)+32)
	buf = append(buf, "Content-Length: "...)
	buf = strconv.AppendInt(buf, int64(len(body)), 10)
	buf = append(buf, "\r\n\r\n"...)
	buf = append(buf, body...)
	res := make(chan error, 1)
	go func() {
		_, err := s.out.Write(buf)
		<-s.wmu
		res <- err
	}()
	var err error
	select {
	case err = <-res:
	case <-s.done:
		select {
		case err = <-res: // it finished as the stream closed
		default:
			return ErrClosed // abandoned: the goroutine ends with the write
		}
	}
	if err != nil {
		return fmt.Errorf("rpc: writing message: %w", err)
	}
	return nil
}

// closeWriteWait bounds how long Close waits for a write in progress.
const closeWriteWait = time.Second

// Close stops the stream: later writes fail with ErrClosed, writers
// waiting fail with ErrClosed at once, in and out are closed when they
// are io.Closers (which unblocks a pending Read or Write on a pipe or a
// pollable file), and Close returns once no write is in progress, or
// after closeWriteWait when one stays blocked (its goroutine is then
// left to the process's exit). Every call returns the first one's result
// once it is done.
func (s *Stream) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		<-s.closed
		return s.closeErr
	}
	close(s.done)
	var errs []error
	if s.inCloser != nil {
		errs = append(errs, s.inCloser.Close())
	}
	if s.outCloser != nil {
		errs = append(errs, s.outCloser.Close())
	}
	t := time.NewTimer(closeWriteWait)
	select {
	case s.wmu <- struct{}{}:
		<-s.wmu
	case <-t.C:
		errs = append(errs, errors.New("rpc: a write was still blocked at close"))
	}
	t.Stop()
	s.closeErr = errors.Join(errs...)
	close(s.closed)
	return s.closeErr
}

// Done is closed when the stream is closed.
func (s *Stream) Done() <-chan struct{} { return s.done }

// decodeMessage validates one body as a JSON-RPC 2.0 message and builds
// the jsonrpc2 message. On a bad message it returns the error to answer
// and the raw id to answer it with (nil when unknown). A response without
// a usable id returns (nil, nil, nil): there is no one to answer.
func decodeMessage(body []byte) (jsonrpc2.Message, json.RawMessage, *jsonrpc2.Error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(trimmed) {
		return nil, nil, newError(CodeParseError, "parse error: the message is not valid JSON")
	}
	switch trimmed[0] {
	case '{':
	case '[':
		return nil, nil, newError(CodeInvalidRequest, "invalid request: batches are not supported")
	default:
		return nil, nil, newError(CodeInvalidRequest, "invalid request: a message must be a JSON object")
	}
	var env struct {
		JSONRPC json.RawMessage `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  json.RawMessage `json:"method"`
		Params  json.RawMessage `json:"params"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return nil, nil, newError(CodeParseError, "parse error: the message is not valid JSON")
	}
	id, idOK := parseID(env.ID)
	var replyID json.RawMessage
	if idOK {
		replyID = env.ID
	}
	if string(env.JSONRPC) != `"2.0"` {
		return nil, replyID, newError(CodeInvalidRequest, `invalid request: jsonrpc must be "2.0"`)
	}
	if env.Method == nil {
		if env.Result == nil && env.Error == nil {
			return nil, replyID, newError(CodeInvalidRequest, "invalid request: method is missing")
		}
		return decodeResponse(id, idOK, env.Result, env.Error), nil, nil
	}
	var method string
	if err := json.Unmarshal(env.Method, &method); err != nil || method == "" {
		return nil, replyID, newError(CodeInvalidRequest, "invalid request: method must be a non-empty string")
	}
	if env.ID != nil && !idOK {
		return nil, nil, newError(CodeInvalidRequest, "invalid request: id must be a non-empty string or a 32-bit integer")
	}
	var params json.RawMessage
	if p := bytes.TrimSpace(env.Params); len(p) > 0 && string(p) != "null" {
		if p[0] != '{' && p[0] != '[' {
			return nil, replyID, newError(CodeInvalidRequest, "invalid request: params must be an object or an array")
		}
		params = p
	}
	if env.ID == nil {
		n, err := jsonrpc2.NewNotification(method, params)
		if err != nil {
			return nil, nil, newError(CodeParseError, "parse error: the message is not valid JSON")
		}
		return n, nil, nil
	}
	c, err := jsonrpc2.NewCall(id, method, params)
	if err != nil {
		return nil, replyID, newError(CodeParseError, "parse error: the message is not valid JSON")
	}
	return c, nil, nil
}

// decodeResponse builds a response to one of our calls; nil when it has
// no usable id or a malformed error member.
func decodeResponse(id jsonrpc2.ID, idOK bool, result, errMember json.RawMessage) jsonrpc2.Message {
	if !idOK {
		return nil
	}
	var rerr error
	if errMember != nil && string(bytes.TrimSpace(errMember)) != "null" {
		var e struct {
			Code    *int64  `json:"code"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(errMember, &e); err != nil || e.Code == nil || e.Message == nil {
			return nil
		}
		rerr = &jsonrpc2.Error{Code: jsonrpc2.Code(*e.Code), Message: *e.Message}
	}
	if result == nil {
		result = json.RawMessage("null")
	}
	r, err := jsonrpc2.NewResponse(id, result, rerr)
	if err != nil {
		return nil
	}
	return r
}

// parseID accepts what jsonrpc2.ID can carry: a non-empty string or an
// integer in the int32 range (fractions, exponents and null are refused).
func parseID(raw json.RawMessage) (jsonrpc2.ID, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return jsonrpc2.ID{}, false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return jsonrpc2.ID{}, false
		}
		return jsonrpc2.NewStringID(s), true
	}
	n, err := strconv.ParseInt(string(raw), 10, 32)
	if err != nil {
		return jsonrpc2.ID{}, false
	}
	return jsonrpc2.NewNumberID(int32(n)), true
}

// idKey is the cancel-table key of an id: its unambiguous string form
// (#5 for the number 5, "5" for the string), so numeric and string ids
// never collide.
func idKey(id jsonrpc2.ID) string { return fmt.Sprintf("%q", id) }
