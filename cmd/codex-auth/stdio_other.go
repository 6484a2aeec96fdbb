//go:build !unix

// stdio_other.go: stdin for serve where there is no poller for it.

package main

import (
	"io"
	"os"
)

// pollableStdin is stdin as is; restore does nothing.
func pollableStdin() (in io.ReadCloser, restore func()) { return os.Stdin, func() {} }
