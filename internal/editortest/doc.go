// Package editortest is the fake editor of codex-auth's tests, demo and
// benchmarks: one JSON-RPC client core, [Conn], over any reader and
// writer, framed like LSP (Content-Length headers, codex-auth serve) or
// as JSON lines (the Codex app-server). A Conn has one read loop; it
// records every message with its arrival time and raw bytes, keeps a
// transcript of both directions (with a redaction hook for secrets),
// waits on conditions (never on sleeps), sends calls, notifications,
// replies and raw bytes, and answers the server's requests
// (window/showDocument) with settable handlers.
//
// [Editor] is a Conn for in-process tests: it ends with the test and
// prints its transcript only when the test fails. Package e2eutil puts a
// Conn on a spawned process's stdio.
//
// It frames messages on its own, independently of package rpc, so a bug
// in rpc's framing cannot hide itself.
package editortest
