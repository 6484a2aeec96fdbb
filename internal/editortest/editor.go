package editortest

import (
	"io"
	"testing"
)

// Editor is the fake editor of in-process tests: a Conn (LSP framing)
// that is closed when the test ends and logs its transcript only when
// the test failed. Its methods are safe for concurrent use.
type Editor struct {
	*Conn
}

// New starts a fake editor on rw: it reads the server's output from rw and
// writes the server's input to it; Close closes rw (the server then sees
// end of input). The transcript is logged when t fails.
func New(t testing.TB, rw io.ReadWriteCloser) *Editor {
	e := &Editor{Conn: NewConn(rw, rw, Options{})}
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
