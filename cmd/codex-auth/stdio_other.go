//go:build !unix

package main

import (
	"io"
	"os"
)

// pollableStdin is stdin as is; restore does nothing.
func pollableStdin() (in io.ReadCloser, restore func()) { return os.Stdin, func() {} }
