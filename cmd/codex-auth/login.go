package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/session/loopback"
)

// maxSecretInput bounds what a login reads from stdin (an API key or an
// access token).
const maxSecretInput = 64 << 10

// loginMethod is how `login` signs in.
type loginMethod int

const (
	loginBrowser loginMethod = iota
	loginDevice
	loginAPIKey
	loginAccessToken
)

// loginOptions are `login`'s flags.
type loginOptions struct {
	stack  *stackFlags
	method loginMethod
}

// loginCommand parses `login`'s flags (`login status` is statusCommand)
// and runs it.
func loginCommand(ctx context.Context, g globals, args []string) int {
	if len(args) > 0 && args[0] == "status" {
		return statusCommand(ctx, g, args[1:])
	}
	o := loginOptions{stack: newStackFlags(g, oneShotLogLevel)}
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	o.stack.register(fs)
	withAPIKey := fs.Bool("with-api-key", false, "read an API key from stdin")
	withAccessToken := fs.Bool("with-access-token", false, "read a personal access token from stdin")
	deviceAuth := fs.Bool("device-auth", false, "sign in with a device code")
	if code, ok := parseFlags(fs, g, args); !ok {
		return code
	}
	if name := first(o.stack.provider, g.getenv(envProvider)); name != "" && (*withAPIKey || *withAccessToken) {
		return fail(g.stderr, 2, "login: --with-api-key and --with-access-token are Codex's sign-in; the provider %q signs in with the browser or --device-auth", name)
	}
	switch {
	case *withAPIKey && *withAccessToken:
		return fail(g.stderr, 2, "login: Choose one login credential source: --with-api-key or --with-access-token.")
	case *withAccessToken && *deviceAuth:
		return fail(g.stderr, 2, "login: --with-access-token and --device-auth cannot be used together")
	case *withAPIKey && *deviceAuth:
		return fail(g.stderr, 2, "login: --with-api-key and --device-auth cannot be used together")
	case *withAccessToken:
		o.method = loginAccessToken
	case *withAPIKey:
		o.method = loginAPIKey
	case *deviceAuth:
		o.method = loginDevice
	}
	return runLogin(ctx, g, o)
}

// runLogin signs in with the method chosen, with Codex 0.171.0's words.
func runLogin(ctx context.Context, g globals, o loginOptions) int {
	switch o.method {
	case loginAPIKey:
		return loginWithAPIKey(ctx, g, o)
	case loginAccessToken:
		return loginWithAccessToken(ctx, g, o)
	}
	done := make(chan session.LoginCompleted, 4)
	h := hooks{editor: loginEditor{done: done}}
	if o.method == loginBrowser {
		h.browser = loopback.OpenBrowser
		h.headless = func() bool { return loopback.DetectHeadless(g.getenv, runtime.GOOS) }
	}
	st, release := oneShot(ctx, g, o.stack, h)
	if st == nil {
		return 1
	}
	defer release()
	var id string
	var err error
	if o.method == loginBrowser {
		id, err = startBrowser(ctx, g, st)
	} else {
		id, err = startDevice(ctx, g, st.manager)
	}
	if err != nil {
		fmt.Fprintf(g.stderr, "Error logging in: %v\n", err)
		return 1
	}
	for {
		select {
		case c := <-done:
			if c.LoginID != id {
				continue
			}
			if !c.Success {
				fmt.Fprintf(g.stderr, "Error logging in: %s\n", c.Error)
				return 1
			}
			// Let the browser fetch the success page before the
			// callback server goes away (bounded by the flow itself).
			_ = st.manager.WaitLogin(ctx, id)
			fmt.Fprintln(g.stderr, "Successfully logged in")
			return 0
		case <-ctx.Done():
			st.manager.CancelLogin(context.Background(), id)
			fmt.Fprintln(g.stderr, "Login canceled")
			return 1
		}
	}
}

// loginEditor is the CLI as the session's editor during a login: it only
// hears how the login ended.
type loginEditor struct {
	session.NoEditor
	done chan session.LoginCompleted
}

func (l loginEditor) LoginCompleted(c session.LoginCompleted) {
	select {
	case l.done <- c:
	default:
	}
}

// startBrowser starts `codex-auth login`: print the URL, open a browser
// where there is one; the callback ends it.
func startBrowser(ctx context.Context, g globals, st *stack) (string, error) {
	bl, err := st.manager.StartBrowserLogin(ctx)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(g.stderr, "Starting local login server. If your browser did not open, navigate to this URL to authenticate:\n\n%s\n\n", bl.AuthURL)
	if bl.Headless {
		device := "codex-auth login --device-auth"
		if st.provider != nil {
			device = "codex-auth --provider " + st.provider.Name + " login --device-auth"
		}
		fmt.Fprintln(g.stderr, bl.Message)
		fmt.Fprintln(g.stderr, "On a remote or headless machine, `"+device+"` signs in with a code instead.")
	}
	return bl.LoginID, nil
}

// startDevice starts `codex-auth login --device-auth`: print the URL and
// the code with a phishing warning; the approval ends it.
func startDevice(ctx context.Context, g globals, m *session.Manager) (string, error) {
	dl, err := m.StartDeviceLogin(ctx)
	if err != nil {
		return "", err
	}
	mins := int(time.Until(dl.ExpiresAt).Round(time.Minute) / time.Minute)
	fmt.Fprintf(g.stderr, "Follow these steps to sign in with a device code:\n\n"+
		"1. Open this link in your browser and sign in:\n   %s\n\n"+
		"2. Enter this one-time code (expires in %d minutes):\n   %s\n\n"+
		"Device codes are a common phishing target. Never share this code, and only enter it on the page above.\n\n",
		dl.VerificationURL, mins, dl.UserCode)
	return dl.LoginID, nil
}

// loginWithAPIKey is `login --with-api-key`: the policy is checked before
// stdin is read (Codex's order), then the key is saved through the
// Manager.
func loginWithAPIKey(ctx context.Context, g globals, o loginOptions) int {
	st, release := oneShot(ctx, g, o.stack, hooks{})
	if st == nil {
		return 1
	}
	defer release()
	if err := session.PolicyOf(st.config).CheckLogin(session.LoginMethodAPI); err != nil {
		fmt.Fprintln(g.stderr, err)
		return 1
	}
	if isTerminal(g.stdin) {
		fmt.Fprintln(g.stderr, "--with-api-key expects the API key on stdin. Try piping it, e.g. `printenv OPENAI_API_KEY | codex-auth login --with-api-key`.")
		return 1
	}
	fmt.Fprintln(g.stderr, "Reading API key from stdin...")
	key, code, ok := readSecret(g, "API key", "No API key provided via stdin.")
	if !ok {
		return code
	}
	if err := st.manager.LoginAPIKey(ctx, key); err != nil {
		// A policy changed since the first check is printed bare.
		return loginFailed(g, err, "Error logging in", func(string) bool { return true })
	}
	fmt.Fprintln(g.stderr, "API key saved. Authentication is checked when you send a request.")
	return 0
}

// loginFailed prints why a login failed, in Codex's words: "prefix: err",
// or a policy's message alone when bare holds for it. It returns 1.
func loginFailed(g globals, err error, prefix string, bare func(policy string) bool) int {
	var pe *session.PolicyError
	if errors.As(err, &pe) && bare(pe.Message) {
		fmt.Fprintln(g.stderr, pe.Message)
		return 1
	}
	fmt.Fprintf(g.stderr, "%s: %v\n", prefix, err)
	return 1
}

// readSecret reads one line of secret from stdin, bounded; noun names it
// in errors ("API key"), empty is Codex's words for nothing given. ok
// false: printed, exit with code.
func readSecret(g globals, noun, empty string) (secret string, code int, ok bool) {
	data, err := io.ReadAll(io.LimitReader(g.stdin, maxSecretInput+1))
	if err != nil {
		return "", fail(g.stderr, 1, "reading stdin: %v", err), false
	}
	if len(data) > maxSecretInput {
		return "", fail(g.stderr, 1, "stdin holds more than %d bytes: not an %s", maxSecretInput, noun), false
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		fmt.Fprintln(g.stderr, empty)
		return "", 1, false
	}
	if bytes.ContainsAny([]byte(s), "\r\n") {
		return "", fail(g.stderr, 1, "stdin holds more than one line: expected one %s", noun), false
	}
	return s, 0, true
}
