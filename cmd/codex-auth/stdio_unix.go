//go:build unix

package main

import (
	"io"
	"os"
	"syscall"
)

// pollableStdin returns stdin switched to non-blocking mode when it is a
// pipe or socket (what an editor gives a sidecar), so reads go through
// Go's network poller: a read waiting for the editor parks a goroutine
// instead of holding an OS thread, which keeps request latency low, and
// closing the file ends the read. A terminal, a regular file or anything
// else is returned as is (a terminal's mode is shared with the shell).
//
// O_NONBLOCK belongs to the open file, which the editor (or the rest of a
// shell pipeline) may share, so restore puts back the mode stdin had;
// call it after the returned file is closed. The file is a duplicate of
// descriptor 0, so closing it leaves descriptor 0 open for restore.
func pollableStdin() (in io.ReadCloser, restore func()) {
	noop := func() {}
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil {
		return os.Stdin, noop
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFIFO, syscall.S_IFSOCK:
	default:
		return os.Stdin, noop
	}
	wasNonblock, err := nonblocking(0)
	if err != nil {
		return os.Stdin, noop
	}
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return os.Stdin, noop
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return os.Stdin, noop
	}
	restore = func() {
		if !wasNonblock {
			_ = syscall.SetNonblock(0, false)
		}
	}
	return os.NewFile(uintptr(fd), "/dev/stdin"), restore
}

// nonblocking reports whether fd's open file is in non-blocking mode.
func nonblocking(fd int) (bool, error) {
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if e != 0 {
		return false, e
	}
	return flags&syscall.O_NONBLOCK != 0, nil
}
