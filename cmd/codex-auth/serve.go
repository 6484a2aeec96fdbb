package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session/loopback"
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

	// The server is the Manager's editor; the Manager is the server's
	// service for the connection Run serves.
	srv, err := rpc.NewServer(rpc.Options{
		Name:            "codex-auth",
		Version:         versionString(),
		MaxMessageBytes: *maxBytes,
		Logger:          logger,
	})
	if err != nil {
		return fail(stderr, 1, "serve: %v", err)
	}
	st, err := buildStack(f, getenv, logger, hooks{
		editor:   srv,
		browser:  loopback.OpenBrowser,
		headless: func() bool { return loopback.DetectHeadless(getenv, runtime.GOOS) },
	})
	if err != nil {
		return fail(stderr, 1, "serve: %v", err)
	}
	defer st.close()
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
	return srv.Run(ctx, st.manager, stdin, stdout)
}
