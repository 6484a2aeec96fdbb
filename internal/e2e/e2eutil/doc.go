// Package e2eutil drives real processes for the end-to-end tests and the
// benchmark programs: the codex-auth sidecar (LSP framing) and the Codex
// app-server (JSON lines) as JSON-RPC peers, each an editortest.Conn on
// the process's stdio whose messages are recorded with their arrival
// times, the local issuer, a fake browser, and the auth.json they share.
// Like editortest, it frames messages independently of package rpc, so a
// framing bug there cannot hide itself.
//
// proc.go is a spawned peer (Proc); peers.go starts the sidecar and the
// app-server and holds the steps every test repeats; stress.go and
// mixed.go are the refresh stress runs shared with bench/stress.
package e2eutil
