package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/codex-auth/codex-auth/internal/editortest"
	"github.com/codex-auth/codex-auth/rpc"
	"go.lsp.dev/jsonrpc2"
)

// fuzzMaxMessage is the body cap under fuzzing: small, so that claims
// over it are common.
const fuzzMaxMessage = 128

// endReader records whether the reader under the Stream has reached its
// end of input.
type endReader struct {
	r     io.Reader
	ended bool
}

func (e *endReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.ended = true
	}
	return n, err
}

// FuzzStream feeds arbitrary bytes to Stream.Read until it fails, and
// checks that it never panics, that it fails only at end of input with
// every byte accounted for, that a Content-Length claim is never allocated
// beyond the cap, that every message it returns re-encodes to a frame that
// reads back the same, and that everything it writes itself is a
// well-formed error reply. Seeds: testdata/fuzz/FuzzStream.
func FuzzStream(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &endReader{r: bytes.NewReader(data)}
		var out bytes.Buffer
		st := rpc.NewStream(in, &out, rpc.StreamOptions{MaxMessageBytes: fuzzMaxMessage})
		ctx := context.Background()

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var msgs []jsonrpc2.Message
		var consumed int64
		var readErr error
		for range len(data) + 1 { // each message consumes at least one byte
			msg, n, err := st.Read(ctx)
			consumed += n
			if err != nil {
				readErr = err
				break
			}
			if msg == nil {
				t.Fatal("Read returned neither a message nor an error")
			}
			msgs = append(msgs, msg)
		}
		runtime.ReadMemStats(&after)

		if readErr == nil {
			t.Fatalf("Read returned %d messages from %d bytes without reaching the end", len(msgs), len(data))
		}
		if !in.ended {
			t.Fatalf("Read failed with %v before the end of input", readErr)
		}
		if !errors.Is(readErr, io.EOF) && !errors.Is(readErr, io.ErrUnexpectedEOF) {
			t.Fatalf("Read failed with %v at end of input, want io.EOF or io.ErrUnexpectedEOF", readErr)
		}
		if consumed != int64(len(data)) {
			t.Fatalf("Read accounted for %d bytes of %d", consumed, len(data))
		}
		// A body at the cap, plus generous room for decoding what the input
		// holds; a claim beyond that must never be allocated.
		if got, budget := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+256*len(data)); got > budget {
			t.Fatalf("reading %d bytes allocated %d bytes, over the budget of %d", len(data), got, budget)
		}

		for _, msg := range msgs {
			checkReencodes(t, msg)
		}
		checkErrorReplies(t, out.Bytes())
	})
}

// checkReencodes writes msg through a Stream and reads it back: the
// encoding must not change.
func checkReencodes(t *testing.T, msg jsonrpc2.Message) {
	t.Helper()
	want, err := msg.(json.Marshaler).MarshalJSON()
	if err != nil {
		t.Fatalf("encoding a message Read returned: %v", err)
	}
	var buf bytes.Buffer
	ctx := context.Background()
	if _, err := rpc.NewStream(bytes.NewReader(nil), &buf, rpc.StreamOptions{}).Write(ctx, msg); err != nil {
		t.Fatalf("Write of a message Read returned: %v", err)
	}
	again, _, err := rpc.NewStream(&buf, io.Discard, rpc.StreamOptions{}).Read(ctx)
	if err != nil {
		t.Fatalf("reading back %s: %v", want, err)
	}
	got, err := again.(json.Marshaler).MarshalJSON()
	if err != nil {
		t.Fatalf("encoding the message read back: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("message changed in a round trip:\ngot  %s\nwant %s", got, want)
	}
}

// checkErrorReplies checks that out holds only well-formed frames, each
// a JSON-RPC error reply with a parse or invalid-request code.
func checkErrorReplies(t *testing.T, out []byte) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		body, err := editortest.ReadFrame(r)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the stream wrote a malformed frame: %v\n%q", err, out)
		}
		var m struct {
			JSONRPC string            `json:"jsonrpc"`
			ID      json.RawMessage   `json:"id"`
			Error   *editortest.Error `json:"error"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("the stream wrote a body that is not JSON: %v\n%s", err, body)
		}
		if m.JSONRPC != "2.0" || m.ID == nil || m.Error == nil ||
			(m.Error.Code != int64(rpc.CodeParseError) && m.Error.Code != int64(rpc.CodeInvalidRequest)) {
			t.Fatalf("the stream wrote %s, want an error reply with code %d or %d", body, rpc.CodeParseError, rpc.CodeInvalidRequest)
		}
	}
}
