package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/internal/testenv"
)

// envHelperGet makes this test binary a tiny HTTP client (see TestMain):
// it GETs the URL in the variable, prints "status body" and exits.
const envHelperGet = "CODEX_AUTH_E2E_HELPER_GET"

// TestMain runs the package's tests, or, with envHelperGet set, is the
// HTTP client TestLoopbackOtherUser runs as another user.
func TestMain(m *testing.M) {
	if u := os.Getenv(envHelperGet); u != "" {
		c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(u)
		if err != nil {
			fmt.Printf("error %v\n", err)
			os.Exit(0)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s\n", resp.StatusCode, body)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLoopbackOtherUser: another local user (nobody, when the tests run
// as root) that finds the callback port and guesses a state is refused,
// learns nothing from the answer, and does not end the login; the user's
// own browser then signs in, and the port is closed once the login is
// over.
func TestLoopbackOtherUser(t *testing.T) {
	prefix, _ := testenv.Unprivileged(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := testenv.ExecutableBy(t, self)
	iss := startIssuer(t, localissuer.Config{})
	home := t.TempDir()
	p := sidecar(t, "loopback", e2eutil.SidecarEnv(home, iss.BaseURL()))
	ctx := testCtx(t, waitLimit)

	var res e2eutil.LoginResult
	if err := p.Call(ctx, "account/login/start", map[string]string{"type": "chatgpt"}, &res); err != nil {
		t.Fatal(err)
	}
	auth, err := url.Parse(res.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := url.Parse(auth.Query().Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	state := auth.Query().Get("state")
	guess := redirect.Scheme + "://" + redirect.Host + "/auth/callback?code=stolen-code&state=guessed-" + strings.Repeat("0", 32)

	other := func(u string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		argv := append(append([]string{}, prefix...), helper)
		cmd := exec.CommandContext(c, argv[0], argv[1:]...)
		cmd.Env = []string{envHelperGet + "=" + u, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("the other user's request: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	got := other(guess)
	if !strings.HasPrefix(got, "400 ") {
		t.Errorf("another user's callback with a guessed state: %q, want 400", got)
	}
	if strings.Contains(got, state) {
		t.Errorf("the refusal repeats the login's state")
	}
	if got := other(redirect.Scheme + "://" + redirect.Host + "/elsewhere"); !strings.HasPrefix(got, "404 ") {
		t.Errorf("another path: %q, want 404", got)
	}

	// The login is still waiting: the user's browser signs in.
	if err := e2eutil.Browse(ctx, res.AuthURL); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitNotification(ctx, 0, "account/login/completed", func(raw json.RawMessage) bool {
		return strings.Contains(string(raw), `"success":true`)
	}); err != nil {
		t.Fatalf("the login after the refused guess: %v", err)
	}
	// Closed after use (the success page was served).
	deadline := time.Now().Add(waitLimit)
	for {
		conn, err := net.DialTimeout("tcp", redirect.Host, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the callback port %s still accepts connections after the login", redirect.Host)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
