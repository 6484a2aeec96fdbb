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
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/internal/editortest"
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
	ed := editortest.NewConn(stdout, stdin, editortest.Options{Redact: maskSecrets, Trace: show})
	ed.Handle("window/showDocument", showDocument)

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
			if err := ed.Notify(s.method, s.params); err != nil {
				return err
			}
			continue
		}
		if err := call(ctx, ed, s.method, s.params); err != nil {
			return err
		}
	}
	// The sign-in ends with account/login/completed, then account/updated.
	_, done, err := ed.WaitFrom(ctx, 0, func(m editortest.Message) bool {
		return m.IsNotification() && m.Method == "account/login/completed"
	})
	if err != nil {
		return fmt.Errorf("waiting for account/login/completed: %w", err)
	}
	if _, err := ed.WaitNotification(ctx, done+1, "account/updated", nil); err != nil {
		return err
	}
	section("status after signing in: email, plan, workspace, expiry; never a secret")
	if err := call(ctx, ed, "account/read", map[string]any{}); err != nil {
		return err
	}
	section("a fresh access token for the extension's own API calls (masked here)")
	if err := call(ctx, ed, "account/token", map[string]any{}); err != nil {
		return err
	}
	section("sign out: deleted at once, revoked at the issuer in the background")
	if err := call(ctx, ed, "account/logout", map[string]any{}); err != nil {
		return err
	}
	if err := call(ctx, ed, "account/read", map[string]any{}); err != nil {
		return err
	}
	section("shutdown")
	if err := call(ctx, ed, "shutdown", nil); err != nil {
		return err
	}
	if err := ed.Notify("exit", nil); err != nil {
		return err
	}
	ed.Close()
	<-ed.Done() // read the sidecar's output to its end before Wait closes it
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

// call sends a request and waits for its reply; the result is printed
// by the trace.
func call(ctx context.Context, ed *editortest.Conn, method string, params any) error {
	if err := ed.Call(ctx, method, params, nil); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// showDocument is the editor opening the sign-in page: the demo's fake
// browser follows it, after the reply.
func showDocument(params json.RawMessage) (any, error) {
	var p struct {
		URI string `json:"uri"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, &editortest.Error{Code: -32602, Message: "bad params: " + err.Error()}
	}
	fmt.Println("   (fake browser: opening the sign-in page and following its redirects)")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := httpGet(ctx, p.URI); err != nil {
			fmt.Println("   (fake browser:", err, ")")
		}
	}()
	return map[string]any{"success": true}, nil
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

// maskSecrets is the transcript's redaction: body with secretKeys masked.
func maskSecrets(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	mask(v)
	b, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return b
}

// show prints a frame (already masked) as indented JSON.
func show(d editortest.Dir, body []byte) {
	dir := "editor  -> sidecar"
	if d == editortest.Received {
		dir = "sidecar -> editor "
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		fmt.Printf("%s %s\n", dir, body)
		return
	}
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
