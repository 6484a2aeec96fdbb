// Command codex-auth signs editors in to OpenAI Codex and shares the
// credential cache with the Codex CLI: `codex-auth serve` is the JSON-RPC
// sidecar editors spawn; login, logout and `login status` work like the
// Codex CLI's commands of the same names. With --provider NAME the same
// verbs (and token) sign in to an OpenID provider instead, kept apart from
// Codex's credentials.
//
// How to read it: main wires the process to run (cli.go), which parses the
// global flags and dispatches a verb from its table. Each verb has its own
// file (serve.go, login.go, accesstoken.go, status.go, logout.go, token.go,
// dev.go)
// with an options struct, a FooCommand that parses its flags into it and
// a runFoo that does the work. deps.go is the one place dependencies are
// built (store, HTTP client, issuer, session Manager) from the flags every
// verb shares, the environment and the configuration; every verb but dev
// goes through the Manager (one-shot verbs with an unwatched one, from
// oneShot); provider.go builds a provider's stack instead of Codex's.
// envtoken.go serves CODEX_ACCESS_TOKEN in front of the store as Codex
// does.
package main

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
