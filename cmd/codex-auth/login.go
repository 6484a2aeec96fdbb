package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/codex-auth/codex-auth/session"
	"github.com/codex-auth/codex-auth/session/loopback"
)

// flags is the stack configuration of this invocation.
func (e *env) flags() stackFlags {
	return stackFlags{store: e.storeMode, logLevel: "warn"}
}

// logger writes warnings and errors to stderr; never secrets.
func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
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

// loginFlow builds the stack with an editor that reports the end of the
// login, starts the flow with start, and waits for its completion.
func (e *env) loginFlow(ctx context.Context, f stackFlags, open bool,
	start func(ctx context.Context, m *session.Manager) (loginID string, err error)) int {
	done := make(chan session.LoginCompleted, 4)
	h := hooks{noWatch: true, editor: loginEditor{done: done}}
	if open {
		h.browser = loopback.OpenBrowser
		h.headless = func() bool { return loopback.DetectHeadless(e.getenv, runtime.GOOS) }
	}
	st, err := buildStack(f, e.getenv, e.logger(), h)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error loading configuration: %v\n", err)
		return 1
	}
	defer st.close()
	if err := st.manager.Start(ctx); err != nil {
		e.logger().Debug("loading credentials before login", "err", err)
	}
	id, err := start(ctx, st.manager)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error logging in: %v\n", err)
		return 1
	}
	for {
		select {
		case c := <-done:
			if c.LoginID != id {
				continue
			}
			if !c.Success {
				fmt.Fprintf(e.stderr, "Error logging in: %s\n", c.Error)
				return 1
			}
			// Let the browser fetch the success page before the
			// callback server goes away (bounded by the flow itself).
			_ = st.manager.WaitLogin(ctx, id)
			fmt.Fprintln(e.stderr, "Successfully logged in")
			return 0
		case <-ctx.Done():
			st.manager.CancelLogin(context.Background(), id)
			fmt.Fprintln(e.stderr, "Login canceled")
			return 1
		}
	}
}

// loginBrowser is `codex-auth login`: print the URL, open a browser where
// there is one, and wait for the callback.
func (e *env) loginBrowser(ctx context.Context, f stackFlags) int {
	return e.loginFlow(ctx, f, true, func(ctx context.Context, m *session.Manager) (string, error) {
		bl, err := m.StartBrowserLogin(ctx)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(e.stderr, "Starting local login server. If your browser did not open, navigate to this URL to authenticate:\n\n%s\n\n", bl.AuthURL)
		if bl.Headless {
			fmt.Fprintln(e.stderr, bl.Message)
			fmt.Fprintln(e.stderr, "On a remote or headless machine, `codex-auth login --device-auth` signs in with a code instead.")
		}
		return bl.LoginID, nil
	})
}

// loginDevice is `codex-auth login --device-auth`: print the URL and the
// code with a phishing warning, and wait for approval.
func (e *env) loginDevice(ctx context.Context, f stackFlags) int {
	return e.loginFlow(ctx, f, false, func(ctx context.Context, m *session.Manager) (string, error) {
		dl, err := m.StartDeviceLogin(ctx)
		if err != nil {
			return "", err
		}
		mins := int(time.Until(dl.ExpiresAt).Round(time.Minute) / time.Minute)
		fmt.Fprintf(e.stderr, "Follow these steps to sign in with a device code:\n\n"+
			"1. Open this link in your browser and sign in:\n   %s\n\n"+
			"2. Enter this one-time code (expires in %d minutes):\n   %s\n\n"+
			"Device codes are a common phishing target. Never share this code, and only enter it on the page above.\n\n",
			dl.VerificationURL, mins, dl.UserCode)
		return dl.LoginID, nil
	})
}
