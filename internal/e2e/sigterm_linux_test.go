package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// Linux fcntl and ioctl numbers (not in package syscall).
const (
	fSetPipeSz = 1031 // F_SETPIPE_SZ
	fGetPipeSz = 1032 // F_GETPIPE_SZ
	fionread   = 0x541B
)

// pipeBuffered is how many bytes wait in the pipe whose read end is f.
func pipeBuffered(f *os.File) (int, error) {
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), fionread, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0, e
	}
	return int(n), nil
}

func TestSIGTERMWithStdoutNotRead(t *testing.T) {
	bin := testenv.BuildBinary(t)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	// A small pipe fills at once (the kernel rounds up to a page).
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, outW.Fd(), fSetPipeSz, 4096); e != 0 {
		t.Fatalf("F_SETPIPE_SZ: %v", e)
	}
	size, _, e := syscall.Syscall(syscall.SYS_FCNTL, outW.Fd(), fGetPipeSz, 0)
	if e != 0 {
		t.Fatalf("F_GETPIPE_SZ: %v", e)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inW.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = e2eutil.Env(t.TempDir())
	cmd.Stdin, cmd.Stdout = inR, outW // outW.Fd() made it a blocking descriptor
	stderr := &e2eutil.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("serve stderr:\n%s", stderr.String())
		}
	})

	send := func(body string) error {
		_, err := fmt.Fprintf(inW, "Content-Length: %d\r\n\r\n%s", len(body), body)
		return err
	}
	go func() {
		msgs := []string{
			`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"initializationOptions":{"protocolVersion":"1"}}}`,
			`{"jsonrpc":"2.0","method":"initialized","params":{}}`,
			`{"jsonrpc":"2.0","id":1,"method":"account/login/start","params":{"type":"apiKey","apiKey":"sk-proj-e2eFLOOD0123456789abcdefvwxyz"}}`,
		}
		for i := 2; i < 5000; i++ {
			msgs = append(msgs, `{"jsonrpc":"2.0","id":`+strconv.Itoa(i)+`,"method":"account/token"}`)
		}
		for _, m := range msgs {
			if send(m) != nil {
				return // serve stopped reading for good, or exited
			}
		}
	}()

	// Wait until stdout is full: every later reply blocks in Write (a
	// frame of up to PIPE_BUF bytes is written whole or waits, so "full"
	// leaves less room than one reply).
	full := time.NewTicker(5 * time.Millisecond)
	defer full.Stop()
	deadline := time.After(waitLimit)
	for {
		n, err := pipeBuffered(outR)
		if err != nil {
			t.Fatal(err)
		}
		if n > int(size)-256 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited before its stdout filled: %v", err)
		case <-deadline:
			t.Fatalf("stdout never filled (%d of %d bytes)", n, size)
		case <-full.C:
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit code 0", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("serve took %v to exit after SIGTERM, want a bounded grace period (at most 5s)", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve still running 15s after SIGTERM with its stdout not read")
	}
}
