// stubs_tmp.go: a temporary stand-in for serve.go (the lead deletes this
// file when it lands).

package main

import (
	"context"
	"fmt"
	"io"
)

func runServe(_ context.Context, _ []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "codex-auth: serve is not built yet")
	return 2
}
