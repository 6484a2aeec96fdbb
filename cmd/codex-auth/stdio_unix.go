//go:build unix

// stdio_unix.go: stdin as a pollable file for serve.

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
func pollableStdin() io.ReadCloser {
	var st syscall.Stat_t
	if err := syscall.Fstat(0, &st); err != nil {
		return os.Stdin
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFIFO, syscall.S_IFSOCK:
	default:
		return os.Stdin
	}
	if err := syscall.SetNonblock(0, true); err != nil {
		return os.Stdin
	}
	return os.NewFile(0, "/dev/stdin")
}
