// Command echoserver is the floor that bench/serve compares the sidecar
// with (issue 3): a bare go.lsp.dev/jsonrpc2 v0.10.0 server on stdio,
// using the stock Conn and header Stream, that answers initialize and
// account/read with fixed results and nothing else. It exits at end of
// input.
package main

import (
	"context"
	"encoding/json"
	"io"
	"os"

	"go.lsp.dev/jsonrpc2"
)

// Fixed results, shaped like codex-auth's so the encoding work is similar.
var (
	initializeResult  = json.RawMessage(`{"capabilities":{"experimental":{"codexAuth":{"protocolVersion":"1","methods":["account/read"]}}},"serverInfo":{"name":"echoserver","version":"0"}}`)
	accountReadResult = json.RawMessage(`{"account":{"type":"apiKey","apiKeyHint":"sk-bench***00000"},"requiresOpenaiAuth":true,"store":{"mode":"file","location":"/tmp/auth.json"}}`)
)

// stdio joins stdin and stdout into the io.ReadWriteCloser that
// jsonrpc2.NewStream wants.
type stdio struct {
	io.Reader
	io.Writer
}

// Close closes stdin and stdout.
func (stdio) Close() error {
	_ = os.Stdin.Close()
	return os.Stdout.Close()
}

func handle(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
	switch req.Method() {
	case "initialize":
		return reply(ctx, initializeResult, nil)
	case "account/read":
		return reply(ctx, accountReadResult, nil)
	case "initialized", "exit":
		return reply(ctx, nil, nil) // notifications: nothing is sent
	}
	return jsonrpc2.MethodNotFoundHandler(ctx, reply, req)
}

func main() {
	conn := jsonrpc2.NewConn(jsonrpc2.NewStream(stdio{os.Stdin, os.Stdout}))
	conn.Go(context.Background(), handle)
	<-conn.Done()
}
