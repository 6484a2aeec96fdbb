package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
)

const devUsage = `usage: codex-auth dev issuer [flags]

Runs the strict local issuer (OpenAI's sign-in endpoints, see
docs/local-issuer.md). Prints its base URL as the first line of stdout, then
serves until interrupted.

flags:
  --addr HOST:PORT          listen address (default 127.0.0.1:0)
  --user EMAIL[:PLAN[:WORKSPACE]]  a user (repeatable; the first signs in)
  --client-id ID            the accepted client id (default Codex's)
  --access-ttl, --id-ttl, --refresh-ttl DURATION   token lifetimes
  --ports LIST              allowed redirect ports, comma-separated; 0 = any (default 1455,1457)
  --form                    /oauth/authorize shows an approve/deny page
  --device-ttl DURATION     device code lifetime (default 15m)
  --device-interval SECONDS poll interval announced (default 5)
  --no-device               device login not enabled (usercode answers 404)
  --ignore-allowed-workspace  sign in even outside allowed_workspace_id
  --fault SPEC              arm a fault (repeatable), e.g.
                            kind=status,path=/oauth/token,status=503,count=2
  --tls-cert FILE --tls-key FILE  serve HTTPS with this PEM pair
  --ledger FILE             append every secret minted or received (tokens,
                            codes, verifiers, device auth ids, API keys) to
                            FILE (0600), one "KIND<TAB>SECRET" line each, for
                            leak scans (internal/leakscan); never in real use
`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runDev runs `codex-auth dev SUBCOMMAND`; args follow "dev".
func runDev(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "issuer" {
		fmt.Fprint(stderr, devUsage)
		return 2
	}
	d, err := parseDevIssuer(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, devUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "codex-auth: dev issuer: %v\n", err)
		return 2
	}
	cfg := d.cfg
	if d.ledger != "" {
		f, err := openLedger(d.ledger)
		if err != nil {
			fmt.Fprintf(stderr, "codex-auth: dev issuer: --ledger: %v\n", err)
			return 1
		}
		defer f.Close()
		cfg.Ledger = f
	}
	s, err := localissuer.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "codex-auth: dev issuer: %v\n", err)
		return 1
	}
	var base string
	if d.cert != nil {
		base, err = s.StartTLS(d.addr, *d.cert)
	} else {
		base, err = s.Start(d.addr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "codex-auth: dev issuer: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, base)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("local issuer listening", "url", base, "client_id", s.ClientID(), "users", len(cfg.Users))
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(shutdownCtx); err != nil {
		s.Close()
	}
	log.Info("local issuer stopped", "stats", fmt.Sprintf("%+v", s.Stats()))
	if err := s.LedgerErr(); err != nil {
		log.Error("the ledger is incomplete", "file", d.ledger, "err", err)
		return 1
	}
	return 0
}

// openLedger opens (creating) the --ledger file for appending, mode 0600
// even when it existed. Each line is one unbuffered write, so a killed
// issuer leaves every line it wrote.
func openLedger(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// devIssuer is what the flags of `dev issuer` ask for.
type devIssuer struct {
	cfg    localissuer.Config
	addr   string
	cert   *tls.Certificate // nil: plain HTTP
	ledger string           // --ledger; "" for none
}

// parseDevIssuer reads the flags of `dev issuer`.
func parseDevIssuer(args []string) (devIssuer, error) {
	var d devIssuer
	cfg := &d.cfg
	fs := flag.NewFlagSet("dev issuer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:0", "")
	var users, faults listFlag
	fs.Var(&users, "user", "")
	fs.Var(&faults, "fault", "")
	fs.StringVar(&cfg.ClientID, "client-id", "", "")
	fs.DurationVar(&cfg.AccessTokenTTL, "access-ttl", 0, "")
	fs.DurationVar(&cfg.IDTokenTTL, "id-ttl", 0, "")
	fs.DurationVar(&cfg.RefreshTokenTTL, "refresh-ttl", 0, "")
	ports := fs.String("ports", "", "")
	fs.BoolVar(&cfg.Form, "form", false, "")
	fs.DurationVar(&cfg.DeviceCodeTTL, "device-ttl", 0, "")
	interval := fs.Int("device-interval", 0, "")
	fs.BoolVar(&cfg.DeviceDisabled, "no-device", false, "")
	fs.BoolVar(&cfg.IgnoreAllowedWorkspace, "ignore-allowed-workspace", false, "")
	certFile := fs.String("tls-cert", "", "")
	keyFile := fs.String("tls-key", "", "")
	fs.StringVar(&d.ledger, "ledger", "", "")
	if err := fs.Parse(args); err != nil {
		return d, err
	}
	if fs.NArg() > 0 {
		return d, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, u := range users {
		parts := strings.Split(u, ":")
		if len(parts) > 3 || parts[0] == "" {
			return d, fmt.Errorf("--user %q: want EMAIL[:PLAN[:WORKSPACE]]", u)
		}
		parts = append(parts, "", "")
		cfg.Users = append(cfg.Users, localissuer.User{Email: parts[0], PlanType: parts[1], WorkspaceID: parts[2]})
	}
	for _, f := range faults {
		ft, err := localissuer.ParseFault(f)
		if err != nil {
			return d, fmt.Errorf("--fault: %w", err)
		}
		cfg.Faults = append(cfg.Faults, ft)
	}
	if *ports != "" {
		for _, p := range strings.Split(*ports, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return d, fmt.Errorf("--ports: %q is not a port", p)
			}
			cfg.AllowedRedirectPorts = append(cfg.AllowedRedirectPorts, n)
		}
	}
	if *interval < 0 {
		return d, fmt.Errorf("--device-interval must not be negative")
	}
	cfg.DeviceInterval = time.Duration(*interval) * time.Second
	if (*certFile == "") != (*keyFile == "") {
		return d, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	d.addr = *addr
	if *certFile == "" {
		return d, nil
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return d, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	d.cert = &cert
	return d, nil
}
