package editortest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codex-auth/codex-auth/internal/editortest"
)

// peer is the other end of a Conn: it reads what the Conn writes and
// writes what the Conn reads.
type peer struct {
	in  *bufio.Reader  // the Conn's output
	out io.WriteCloser // the Conn's input
}

func connect(t *testing.T, opts editortest.Options) (*editortest.Conn, *peer) {
	t.Helper()
	toConnR, toConnW := io.Pipe()
	fromConnR, fromConnW, err := os.Pipe() // buffered: the Conn's writes do not wait for the peer
	if err != nil {
		t.Fatal(err)
	}
	c := editortest.NewConn(toConnR, fromConnW, opts)
	t.Cleanup(func() {
		_ = c.Close()
		_ = toConnW.Close()
		_ = fromConnR.Close()
		<-c.Done()
	})
	return c, &peer{in: bufio.NewReader(fromConnR), out: toConnW}
}

func (p *peer) readLine(t *testing.T) string {
	t.Helper()
	line, err := p.in.ReadString('\n')
	if err != nil {
		t.Fatalf("peer: reading a line: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func (p *peer) write(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(p.out, s); err != nil {
		t.Fatalf("peer: writing: %v", err)
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestJSONLines(t *testing.T) {
	ctx := ctxFor(t)
	c, p := connect(t, editortest.Options{Framing: editortest.JSONLines, Name: "app-server"})
	got := make(chan error, 1)
	var res struct{ OK bool }
	go func() { got <- c.Call(ctx, "account/read", map[string]bool{"refreshToken": true}, &res) }()
	if line, want := p.readLine(t), `{"id":1,"method":"account/read","params":{"refreshToken":true}}`; line != want {
		t.Errorf("request line: got %s, want %s (no jsonrpc member in JSON lines)", line, want)
	}
	p.write(t, "a log line, not JSON\n\n"+`{"id":1,"result":{"OK":true}}`+"\n")
	if err := <-got; err != nil || !res.OK {
		t.Fatalf("Call: got %v, %+v; want nil, OK", err, res)
	}
	msgs := c.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1 (the log line is skipped): %+v", len(msgs), msgs)
	}
	if string(msgs[0].Raw) != `{"id":1,"result":{"OK":true}}` || msgs[0].At.IsZero() {
		t.Errorf("message: Raw %s, At %v; want the line and its time", msgs[0].Raw, msgs[0].At)
	}
}

func TestLSPRedactTraceAndTranscript(t *testing.T) {
	ctx := ctxFor(t)
	var mu sync.Mutex
	var traced []string
	c, p := connect(t, editortest.Options{
		Redact: func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("sk-secret"), []byte("<redacted>")) },
		Trace: func(d editortest.Dir, b []byte) {
			mu.Lock()
			traced = append(traced, d.String()+" "+string(b))
			mu.Unlock()
		},
	})
	if err := c.Notify("initialized", map[string]string{"key": "sk-secret"}); err != nil {
		t.Fatal(err)
	}
	body, err := editortest.ReadFrame(p.in)
	if err != nil || string(body) != `{"jsonrpc":"2.0","method":"initialized","params":{"key":"sk-secret"}}` {
		t.Fatalf("frame: got %s, %v", body, err)
	}
	note := `{"jsonrpc":"2.0","method":"account/updated","params":{"apiKey":"sk-secret"}}`
	p.write(t, "Content-Length: "+strconv.Itoa(len(note))+"\r\n\r\n"+note)
	params, err := c.WaitFor(ctx, "account/updated", nil)
	if err != nil || !bytes.Contains(params, []byte("sk-secret")) {
		t.Fatalf("WaitFor: got %s, %v; want the params as sent", params, err)
	}
	if err := c.WriteRaw([]byte("junk\r\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`-> {"jsonrpc":"2.0","method":"initialized","params":{"key":"<redacted>"}}`,
		`<- {"jsonrpc":"2.0","method":"account/updated","params":{"apiKey":"<redacted>"}}`,
		`-> raw "junk\r\n"`,
	}
	if diff := cmp.Diff(strings.Join(want, "\n"), c.Transcript()); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{want[0], want[1], `-> junk` + "\r\n"}, traced); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestHandlersMarksAndEnd(t *testing.T) {
	ctx := ctxFor(t)
	c, p := connect(t, editortest.Options{})
	c.Handle("window/showDocument", func(params json.RawMessage) (any, error) {
		return map[string]bool{"success": true}, nil
	})
	c.Handle("window/fails", func(json.RawMessage) (any, error) { return nil, errors.New("no") })
	send := func(s string) { p.write(t, "Content-Length: "+strconv.Itoa(len(s))+"\r\n\r\n"+s) }
	for _, tt := range []struct{ req, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"window/showDocument","params":{}}`, `{"id":1,"jsonrpc":"2.0","result":{"success":true}}`},
		{`{"jsonrpc":"2.0","id":2,"method":"window/fails"}`, `{"error":{"code":-32603,"message":"no"},"id":2,"jsonrpc":"2.0"}`},
		{`{"jsonrpc":"2.0","id":3,"method":"window/other"}`, `{"error":{"code":-32601,"message":"method not found: window/other"},"id":3,"jsonrpc":"2.0"}`},
	} {
		send(tt.req)
		if body, err := editortest.ReadFrame(p.in); err != nil || string(body) != tt.want {
			t.Errorf("answer to %s: got %s, %v; want %s", tt.req, body, err, tt.want)
		}
	}
	send(`{"jsonrpc":"2.0","method":"n","params":{"i":1}}`)
	if _, err := c.WaitFor(ctx, "n", nil); err != nil {
		t.Fatal(err)
	}
	mark := c.Len()
	send(`{"jsonrpc":"2.0","method":"n","params":{"i":2}}`)
	m, err := c.WaitNotification(ctx, mark, "n", nil)
	if err != nil || string(m.Params) != `{"i":2}` {
		t.Errorf("WaitNotification from the mark: got %s, %v; want the second", m.Params, err)
	}
	_ = p.out.Close()
	<-c.Done()
	if _, err := c.WaitFor(ctx, "never", nil); !errors.Is(err, editortest.ErrEnded) {
		t.Errorf("wait after the end: got %v, want ErrEnded", err)
	}
}
