// Command codex-auth signs editors in to OpenAI Codex and shares the
// credential cache with the Codex CLI: `codex-auth serve` is the JSON-RPC
// sidecar editors spawn; login, logout and `login status` work like the
// Codex CLI's commands of the same names.
package main

// main.go: wiring the process to run.

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a clean exit; a second one, if the exit
	// hangs, gets the default action (it ends the process).
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
