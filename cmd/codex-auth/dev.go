package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
	cfg, addr, cert, err := parseDevIssuer(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, devUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "codex-auth: dev issuer: %v\n", err)
		return 2
	}
	s, err := localissuer.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "codex-auth: dev issuer: %v\n", err)
		return 1
	}
	var base string
	if cert != nil {
		base, err = s.StartTLS(addr, *cert)
	} else {
		base, err = s.Start(addr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "codex-auth: dev issuer: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, base)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("local issuer listening", "url", base, "client_id", cfg.ClientID, "users", len(cfg.Users))
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(shutdownCtx); err != nil {
		s.Close()
	}
	log.Info("local issuer stopped", "stats", fmt.Sprintf("%+v", s.Stats()))
	return 0
}

// parseDevIssuer reads the flags of `dev issuer`.
func parseDevIssuer(args []string) (localissuer.Config, string, *tls.Certificate, error) {
	var cfg localissuer.Config
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
	if err := fs.Parse(args); err != nil {
		return cfg, "", nil, err
	}
	if fs.NArg() > 0 {
		return cfg, "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, u := range users {
		parts := strings.Split(u, ":")
		if len(parts) > 3 || parts[0] == "" {
			return cfg, "", nil, fmt.Errorf("--user %q: want EMAIL[:PLAN[:WORKSPACE]]", u)
		}
		parts = append(parts, "", "")
		cfg.Users = append(cfg.Users, localissuer.User{Email: parts[0], PlanType: parts[1], WorkspaceID: parts[2]})
	}
	for _, f := range faults {
		ft, err := localissuer.ParseFault(f)
		if err != nil {
			return cfg, "", nil, fmt.Errorf("--fault: %w", err)
		}
		cfg.Faults = append(cfg.Faults, ft)
	}
	if *ports != "" {
		for _, p := range strings.Split(*ports, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return cfg, "", nil, fmt.Errorf("--ports: %q is not a port", p)
			}
			cfg.AllowedRedirectPorts = append(cfg.AllowedRedirectPorts, n)
		}
	}
	if *interval < 0 {
		return cfg, "", nil, fmt.Errorf("--device-interval must not be negative")
	}
	cfg.DeviceInterval = time.Duration(*interval) * time.Second
	if (*certFile == "") != (*keyFile == "") {
		return cfg, "", nil, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if *certFile == "" {
		return cfg, *addr, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return cfg, "", nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return cfg, *addr, &cert, nil
}
