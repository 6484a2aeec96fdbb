// serve.go: `codex-auth serve`, the sidecar editors spawn.

package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session"
)

// serve runs the sidecar on stdin/stdout until exit, end of input or
// SIGTERM. stdout carries protocol frames only; logs go to stderr or
// --log-file.
func serve(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f stackFlags
	f.register(fs)
	fs.Bool("stdio", true, "accepted and ignored (vscode-languageclient passes it)")
	maxBytes := fs.Int("max-message-bytes", rpc.DefaultMaxMessageBytes, "largest message accepted, in bytes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger, closeLog, err := f.logger(stderr)
	if err != nil {
		return fail(stderr, 2, "serve: %v", err)
	}
	defer closeLog()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop) // a second SIGTERM is not swallowed (see main)

	// The Manager and the Server refer to each other: bind late.
	var srv atomic.Pointer[rpc.Server]
	st, err := buildStack(f, getenv, logger, hooks{
		notify: func(ev any) {
			if s := srv.Load(); s != nil {
				s.Notify(ev)
			}
		},
		// The editor opens the page where the user is, when it can;
		// else we do, where there is a display.
		openURL: func(ctx context.Context, u string) (bool, error) {
			if s := srv.Load(); s != nil && s.CanShowDocument() {
				return s.ShowDocument(ctx, u)
			}
			return session.OpenBrowser(ctx, u)
		},
		headless: func() bool {
			if s := srv.Load(); s != nil && s.CanShowDocument() {
				return false
			}
			return session.DetectHeadless(getenv, runtime.GOOS)
		},
	})
	if err != nil {
		return fail(stderr, 1, "serve: %v", err)
	}
	defer st.close()
	s, err := rpc.NewServer(rpc.Options{
		Service:         st.manager,
		Name:            "codex-auth",
		Version:         versionString(),
		MaxMessageBytes: *maxBytes,
		Logger:          logger,
	})
	if err != nil {
		return fail(stderr, 1, "serve: %v", err)
	}
	srv.Store(s)
	if f, ok := stdin.(*os.File); ok && f == os.Stdin {
		var restore func()
		stdin, restore = pollableStdin()
		defer restore() // runs after Run, which closes the file first
	}
	if err := st.manager.Start(ctx); err != nil {
		// Status reports it too; serving goes on so the editor can log in.
		logger.Warn("loading credentials", "err", err)
	}
	logger.Debug("serving", "home", st.home.Dir, "store", st.store.Location().Where)
	return s.Run(ctx, stdin, stdout)
}
