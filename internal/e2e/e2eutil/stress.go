package e2eutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
)

// StressConfig sets up a stress run.
type StressConfig struct {
	// Bin is the codex-auth binary; Sidecars of its serve run.
	Bin      string
	Sidecars int
	// Codex is the Codex CLI; AppServers of `codex app-server` run beside
	// the sidecars (none when 0), asked account/read {refreshToken:true}.
	Codex      string
	AppServers int
	// Duration of the loops; AccessTTL and Window are the access-token
	// lifetime and the sidecars' refresh window.
	Duration  time.Duration
	AccessTTL time.Duration
	Window    time.Duration
	// Home is the CODEX_HOME to use (an existing, empty folder).
	Home string
	// Logf reports progress (may be nil).
	Logf func(format string, args ...any)
}

// StressResult is what a run measured.
type StressResult struct {
	// Refreshes and ReuseDetections are the issuer's counts during the loops.
	Refreshes       int
	ReuseDetections int
	// MinRefreshes is Duration / (AccessTTL - Window): one refresh per
	// interval is the least that keeps tokens fresh.
	MinRefreshes int
	// TokenCalls and TokenErrors count the sidecars' account/token calls.
	TokenCalls, TokenErrors int
	// ReadCalls and ReadErrors count the app-servers' account/read calls.
	ReadCalls, ReadErrors int
	// FirstErrors are the first few distinct sidecar error messages.
	FirstErrors []string
	// StaleTokens counts account/token answers whose token had expired.
	StaleTokens int
}

// RunStress runs the stress: a browser login through the first sidecar,
// then every process in a loop until Duration has passed.
func RunStress(ctx context.Context, cfg StressConfig) (StressResult, error) {
	var res StressResult
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	iss, base, err := startIssuer(cfg.AccessTTL)
	if err != nil {
		return res, err
	}
	defer iss.Close()
	env := SidecarEnv(cfg.Home, base, "CODEX_AUTH_REFRESH_WINDOW="+cfg.Window.String())
	var procs []*Proc
	defer func() {
		for _, p := range procs {
			Stop(p, 5*time.Second)
		}
	}()
	procs, err = startSignedIn(ctx, cfg.Sidecars, cfg.Bin, env)
	if err != nil {
		return res, err
	}
	codexEnv := Env(cfg.Home, "CODEX_REFRESH_TOKEN_URL_OVERRIDE="+base+"/oauth/token")
	var apps []*Proc
	for i := range cfg.AppServers {
		p, err := StartAppServer(ctx, fmt.Sprintf("app-server-%d", i), cfg.Codex, codexEnv)
		if err != nil {
			return res, err
		}
		procs = append(procs, p)
		apps = append(apps, p)
	}
	before := iss.Stats()
	logf("stress: %d sidecars, %d app-servers, %v, access tokens %v, window %v", cfg.Sidecars, len(apps), cfg.Duration, cfg.AccessTTL, cfg.Window)
	deadline := time.Now().Add(cfg.Duration)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range procs[:cfg.Sidecars] {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				var tok struct {
					AccessToken string  `json:"accessToken"`
					ExpiresAt   *string `json:"expiresAt"`
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := p.Call(cctx, "account/token", nil, &tok)
				cancel()
				mu.Lock()
				res.TokenCalls++
				if err != nil {
					res.TokenErrors++
					if len(res.FirstErrors) < 5 {
						res.FirstErrors = append(res.FirstErrors, p.Name+": "+err.Error())
					}
				} else if tok.ExpiresAt != nil {
					if exp, perr := time.Parse(time.RFC3339, *tok.ExpiresAt); perr == nil && time.Until(exp) < -time.Second {
						res.StaleTokens++
					}
				}
				mu.Unlock()
				if errors.Is(err, ErrEnded) {
					return
				}
			}
		})
	}
	for _, p := range apps {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := p.Call(cctx, "account/read", map[string]bool{"refreshToken": true}, nil)
				cancel()
				mu.Lock()
				res.ReadCalls++
				var rpcErr *RPCError
				if err != nil && !errors.As(err, &rpcErr) {
					res.ReadErrors++ // no reply at all; an error reply is Codex's own business
				}
				mu.Unlock()
				if errors.Is(err, ErrEnded) {
					return
				}
			}
		})
	}
	wg.Wait()
	after := iss.Stats()
	res.Refreshes = after.Refreshes - before.Refreshes
	res.ReuseDetections = after.ReuseDetections - before.ReuseDetections
	if iv := cfg.AccessTTL - cfg.Window; iv > 0 {
		res.MinRefreshes = int(cfg.Duration / iv)
	}
	if _, err := os.Stat(cfg.Home); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// startIssuer starts a local issuer for a stress run: any callback port,
// access tokens of ttl.
func startIssuer(ttl time.Duration) (*localissuer.Server, string, error) {
	iss, err := localissuer.New(localissuer.Config{AllowedRedirectPorts: []int{0}, AccessTokenTTL: ttl})
	if err != nil {
		return nil, "", err
	}
	base, err := iss.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	return iss, base, nil
}

// startSignedIn starts n sidecars of bin with env and signs in with
// ChatGPT through the first. The sidecars started are returned even on
// an error, for the caller to stop.
func startSignedIn(ctx context.Context, n int, bin string, env []string) ([]*Proc, error) {
	var procs []*Proc
	for i := range n {
		p, err := StartSidecar(ctx, fmt.Sprintf("sidecar-%d", i), bin, env)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
		if i == 0 {
			if err := LoginChatGPT(ctx, p); err != nil {
				return procs, fmt.Errorf("the first login: %w", err)
			}
		}
	}
	return procs, nil
}
