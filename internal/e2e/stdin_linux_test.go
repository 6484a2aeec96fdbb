package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// TestStdinBlockingAfterExit: serve reads stdin in non-blocking mode,
// but O_NONBLOCK belongs to the open file, which the editor (or a shell
// in a pipeline) may share; after serve exits it must be blocking again.
func TestStdinBlockingAfterExit(t *testing.T) {
	bin := testenv.BuildBinary(t)
	for _, how := range []string{"end of input", "SIGTERM"} {
		t.Run(how, func(t *testing.T) {
			inR, inW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer inR.Close()
			fd := inR.Fd() // blocking now (Fd does that), shared with serve's stdin
			cmd := exec.Command(bin, "serve")
			cmd.Env = e2eutil.Env(t.TempDir())
			cmd.Stdin = inR
			stderr := &e2eutil.Buffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			// Wait until serve has set up stdin: it answers initialize.
			body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
			if _, err := inW.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body); err != nil {
				t.Fatal(err)
			}
			waitLog(t, stderr, "initialized", exited)
			switch how {
			case "end of input":
				inW.Close()
			case "SIGTERM":
				defer inW.Close()
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("serve: %v\n%s", err, stderr.String())
				}
			case <-time.After(waitLimit):
				_ = cmd.Process.Kill()
				t.Fatal("serve did not exit")
			}
			flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
			if e != 0 {
				t.Fatal(e)
			}
			if flags&syscall.O_NONBLOCK != 0 {
				t.Errorf("stdin left O_NONBLOCK after serve exited (%s)", how)
			}
		})
	}
}

// waitLog waits until serve's stderr holds want (it logs "initialized"
// once initialize is answered), or it exits.
func waitLog(t *testing.T, b *e2eutil.Buffer, want string, exited chan error) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitLimit)
	for !strings.Contains(b.String(), want) {
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v\n%s", err, b.String())
		case <-deadline:
			t.Fatalf("serve never logged %q:\n%s", want, b.String())
		case <-tick.C:
		}
	}
}
