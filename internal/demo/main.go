// Command demo is `make demo`: a real editor session against the bundled
// local issuer. It starts `codex-auth dev issuer` and `codex-auth serve`
// on a throwaway CODEX_HOME, plays the editor (and, when the sidecar asks
// it to open the sign-in page, the browser), and prints every frame of
// the exchange. Secrets in the printed frames are masked.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/codex-auth/codex-auth/internal/editortest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/codex-auth", "the codex-auth binary")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string) error {
	base, err := os.MkdirTemp("", "codex-auth-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	home := filepath.Join(base, "codex-home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}

	// The local issuer, as a developer of an editor integration runs it.
	iss := exec.CommandContext(ctx, bin, "dev", "issuer", "--addr", "127.0.0.1:0", "--ports", "0",
		"--user", "ada@example.com:pro:ws-demo")
	iss.Stderr = os.Stderr
	out, err := iss.StdoutPipe()
	if err != nil {
		return err
	}
	if err := iss.Start(); err != nil {
		return fmt.Errorf("starting the local issuer: %w", err)
	}
	defer func() { iss.Process.Signal(os.Interrupt); iss.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the issuer's URL: %w", err)
	}
	issuer := strings.TrimSpace(line)
	section("local issuer at %s; CODEX_HOME=%s", issuer, home)

	// The sidecar, as an editor spawns it.
	srv := exec.CommandContext(ctx, bin, "serve", "--stdio")
	srv.Env = append(os.Environ(), "CODEX_HOME="+home, "CODEX_AUTH_ISSUER="+issuer,
		"CODEX_AUTH_CALLBACK_PORT=0", "CODEX_AUTH_SYSTEM_CONFIG_DIR="+filepath.Join(base, "etc"))
	srv.Stderr = os.Stderr
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		return fmt.Errorf("starting the sidecar: %w", err)
	}
	ed := newEditor(stdin, stdout)
	go ed.read()

	steps := []struct {
		title  string
		method string
		params any
	}{
		{"the editor starts the sidecar and says which protocol it speaks", "initialize", map[string]any{
			"processId":             os.Getpid(),
			"clientInfo":            map[string]any{"name": "demo-editor", "version": "1.0"},
			"capabilities":          map[string]any{"window": map[string]any{"showDocument": map[string]any{"support": true}}},
			"initializationOptions": map[string]any{"protocolVersion": "1"},
		}},
		{"", "initialized", map[string]any{}},
		{"status before signing in", "account/read", map[string]any{}},
		{"sign in with ChatGPT: the sidecar asks the editor to open the page; the demo's fake browser follows it", "account/login/start", map[string]any{"type": "chatgpt"}},
	}
	for _, s := range steps {
		if s.title != "" {
			section("%s", s.title)
		}
		if s.method == "initialized" {
			ed.notify(s.method, s.params)
			continue
		}
		if _, err := ed.call(ctx, s.method, s.params); err != nil {
			return err
		}
	}
	if _, err := ed.waitFor(ctx, "account/login/completed"); err != nil {
		return err
	}
	if _, err := ed.waitFor(ctx, "account/updated"); err != nil {
		return err
	}
	section("status after signing in: email, plan, workspace, expiry; never a secret")
	if _, err := ed.call(ctx, "account/read", map[string]any{}); err != nil {
		return err
	}
	section("a fresh access token for the extension's own API calls (masked here)")
	if _, err := ed.call(ctx, "account/token", map[string]any{}); err != nil {
		return err
	}
	section("sign out: deleted at once, revoked at the issuer in the background")
	if _, err := ed.call(ctx, "account/logout", map[string]any{}); err != nil {
		return err
	}
	if _, err := ed.call(ctx, "account/read", map[string]any{}); err != nil {
		return err
	}
	section("shutdown")
	if _, err := ed.call(ctx, "shutdown", nil); err != nil {
		return err
	}
	ed.notify("exit", nil)
	stdin.Close()
	if err := srv.Wait(); err != nil {
		return fmt.Errorf("sidecar exit: %w", err)
	}
	stats, err := httpGet(ctx, issuer+"/debug/stats")
	if err != nil {
		return err
	}
	section("the issuer's counters: %s", bytes.TrimSpace(stats))
	fmt.Println("\ndemo: done; the sidecar exited 0")
	return nil
}

func section(format string, a ...any) {
	fmt.Printf("\n== %s\n", fmt.Sprintf(format, a...))
}

// editor is a minimal LSP-framed JSON-RPC client that prints every frame.
type editor struct {
	w  io.Writer
	r  *bufio.Reader
	mu sync.Mutex
	id int

	pending map[string]chan json.RawMessage
	notes   chan note
}

type note struct {
	method string
	params json.RawMessage
}

func newEditor(w io.Writer, r io.Reader) *editor {
	return &editor{w: w, r: bufio.NewReader(r), pending: map[string]chan json.RawMessage{}, notes: make(chan note, 64)}
}

func (e *editor) send(msg map[string]any) {
	msg["jsonrpc"] = "2.0"
	b, _ := json.Marshal(msg)
	show("editor  -> sidecar", b)
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, "Content-Length: %d\r\n\r\n%s", len(b), b)
}

func (e *editor) notify(method string, params any) {
	m := map[string]any{"method": method}
	if params != nil {
		m["params"] = params
	}
	e.send(m)
}

func (e *editor) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	e.mu.Lock()
	e.id++
	id := e.id
	ch := make(chan json.RawMessage, 1)
	e.pending[strconv.Itoa(id)] = ch
	e.mu.Unlock()
	m := map[string]any{"id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	e.send(m)
	select {
	case raw := <-ch:
		var resp struct {
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil {
			return nil, err
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: error %d: %s", method, resp.Error.Code, resp.Error.Message)
		}
		return resp.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no reply: %w", method, ctx.Err())
	}
}

func (e *editor) waitFor(ctx context.Context, method string) (json.RawMessage, error) {
	for {
		select {
		case n := <-e.notes:
			if n.method == method {
				return n.params, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

// read dispatches the sidecar's frames: replies, notifications, and its
// requests to the editor (window/showDocument opens the fake browser).
func (e *editor) read() {
	for {
		body, err := editortest.ReadFrame(e.r)
		if err != nil {
			return
		}
		show("sidecar -> editor ", body)
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(body, &m) != nil {
			continue
		}
		switch {
		case m.Method != "" && len(m.ID) > 0:
			go e.serverRequest(m.ID, m.Method, m.Params)
		case m.Method != "":
			e.notes <- note{m.Method, m.Params}
		default:
			e.mu.Lock()
			ch := e.pending[string(m.ID)]
			delete(e.pending, string(m.ID))
			e.mu.Unlock()
			if ch != nil {
				ch <- body
			}
		}
	}
}

func (e *editor) serverRequest(id json.RawMessage, method string, params json.RawMessage) {
	if method != "window/showDocument" {
		e.send(map[string]any{"id": id, "error": map[string]any{"code": -32601, "message": "not supported by the demo editor"}})
		return
	}
	var p struct {
		URI string `json:"uri"`
	}
	json.Unmarshal(params, &p)
	e.send(map[string]any{"id": id, "result": map[string]any{"success": true}})
	fmt.Println("   (fake browser: opening the sign-in page and following its redirects)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := httpGet(ctx, p.URI); err != nil {
		fmt.Println("   (fake browser:", err, ")")
	}
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("GET %s: %s", strings.SplitN(url, "?", 2)[0], resp.Status)
	}
	return b, err
}

// secretKeys are masked in what the demo prints.
var secretKeys = map[string]bool{"accessToken": true, "apiKey": true, "refreshToken": true, "idToken": true}

// show prints a frame as indented JSON with secrets masked.
func show(dir string, body []byte) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		fmt.Printf("%s %s\n", dir, body)
		return
	}
	mask(v)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("   ", "  ")
	enc.Encode(v)
	fmt.Printf("%s %s", dir, b.String())
}

func mask(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if s, ok := x.(string); ok && secretKeys[k] && s != "" {
				t[k] = fmt.Sprintf("<%d characters, masked>", len(s))
				continue
			}
			mask(x)
		}
	case []any:
		for _, x := range t {
			mask(x)
		}
	}
}
