package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/codex-auth/codex-auth/rpc"
	"github.com/codex-auth/codex-auth/session/loopback"
)

// serveOptions are `serve`'s flags.
type serveOptions struct {
	stack *stackFlags
	// maxMessageBytes bounds one incoming message.
	maxMessageBytes int
}

// serveCommand parses `serve`'s flags and runs it.
func serveCommand(ctx context.Context, g globals, args []string) int {
	o := serveOptions{stack: newStackFlags(g, serveLogLevel)}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o.stack.register(fs)
	fs.Bool("stdio", true, "accepted and ignored (vscode-languageclient passes it)")
	fs.IntVar(&o.maxMessageBytes, "max-message-bytes", rpc.DefaultMaxMessageBytes, "largest message accepted, in bytes")
	if code, ok := parseFlags(fs, g, args); !ok {
		return code
	}
	return runServe(ctx, g, o)
}

// runServe runs the sidecar on stdin/stdout until exit, end of input or
// SIGTERM. stdout carries protocol frames only; logs go to stderr or
// --log-file.
func runServe(ctx context.Context, g globals, o serveOptions) int {
	logger, closeLog, err := o.stack.logger(g.stderr)
	if err != nil {
		return fail(g.stderr, 2, "serve: %v", err)
	}
	defer closeLog()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop) // a second SIGTERM is not swallowed (see main)

	su, err := loadSetup(*o.stack, g.getenv)
	if err != nil {
		return fail(g.stderr, 1, "serve: %v", err)
	}
	// The server is the Manager's editor; the Manager is the server's
	// service for the connection Run serves.
	srv, err := rpc.NewServer(rpc.Options{
		Name:            "codex-auth",
		Version:         versionString(),
		MaxMessageBytes: o.maxMessageBytes,
		Logger:          logger,
		Provider:        su.providerInfo(),
	})
	if err != nil {
		return fail(g.stderr, 1, "serve: %v", err)
	}
	st, err := buildFrom(su, *o.stack, g.getenv, logger, hooks{
		editor:   srv,
		browser:  loopback.OpenBrowser,
		headless: func() bool { return loopback.DetectHeadless(g.getenv, runtime.GOOS) },
	})
	if err == nil && st.netErr != nil {
		st.close()
		err = st.netErr
	}
	if err != nil {
		return fail(g.stderr, 1, "serve: %v", err)
	}
	defer st.close()
	stdin := g.stdin
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
	return srv.Run(ctx, st.manager, stdin, g.stdout)
}
