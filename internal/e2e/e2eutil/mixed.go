package e2eutil

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/codex-auth/codex-auth/internal/localissuer"
	"github.com/codex-auth/codex-auth/store"
)

// MixedConfig sets up a run of our sidecars beside the real Codex CLI as
// users meet it: one `codex app-server` at a time, started every
// AppServerEvery, each forcing a refresh (account/read {refreshToken:true}
// always refreshes in Codex 0.171) and then stopped, while every sidecar's
// editor asks for a token every TokenEvery and, when ForceEvery is set,
// forces a refresh that often (an editor that got a 401).
type MixedConfig struct {
	Bin      string
	Sidecars int
	// Codex is the Codex CLI; no app-server runs when AppServerEvery is 0.
	Codex          string
	AppServerEvery time.Duration
	TokenEvery     time.Duration
	ForceEvery     time.Duration
	Duration       time.Duration
	// AccessTTL is the issuer's access-token lifetime; IssuerLatency
	// delays every refresh answer (a slow issuer widens the window in
	// which two redemptions of one refresh token overlap).
	AccessTTL     time.Duration
	IssuerLatency time.Duration
	// Home is the CODEX_HOME to use (an existing, empty folder).
	Home string
	// SidecarEnv is appended to the sidecars' environment.
	SidecarEnv []string
	Logf       func(format string, args ...any)
}

// MixedResult is what a mixed run measured.
type MixedResult struct {
	// Refreshes and ReuseDetections are the issuer's counts during the run.
	Refreshes, ReuseDetections int
	// TokenCalls, ForcedCalls and TokenErrors count the sidecars' account/token calls.
	TokenCalls, ForcedCalls, TokenErrors int
	// AppServers counts the app-servers started; ReadErrors those whose
	// account/read got no answer at all.
	AppServers, ReadErrors int
	// Regressions counts answers whose access token expires before one the
	// same sidecar had already served (a sidecar going back in time).
	Regressions int
	// StaleTokens counts answers whose token had already expired.
	StaleTokens int
	// AdoptLatencies are, for each access token written to auth.json by
	// another process and then served by a sidecar, the time from its
	// first sight in auth.json (polled every millisecond) to that
	// sidecar's first answer with it.
	AdoptLatencies []time.Duration
	FirstErrors    []string
}

// RunMixed runs a mixed stress: a browser login through the first
// sidecar, then the loops until Duration has passed.
func RunMixed(ctx context.Context, cfg MixedConfig) (MixedResult, error) {
	var res MixedResult
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	iss, base, err := startIssuer(cfg.AccessTTL)
	if err != nil {
		return res, err
	}
	defer iss.Close()
	if cfg.IssuerLatency > 0 {
		if err := iss.SetFaults(localissuer.Faults{{Kind: localissuer.FaultLatency, Path: "/oauth/token", Grant: "refresh_token", Latency: localissuer.Duration(cfg.IssuerLatency)}}); err != nil {
			return res, err
		}
	}
	env := SidecarEnv(cfg.Home, base, cfg.SidecarEnv...)
	var sidecars []*Proc
	defer func() {
		for _, p := range sidecars {
			Stop(p, 5*time.Second)
		}
	}()
	sidecars, err = startSignedIn(ctx, cfg.Sidecars, cfg.Bin, env)
	if err != nil {
		return res, err
	}
	before := iss.Stats()
	logf("mixed: %d sidecars (token every %v, forced every %v), one app-server every %v, %v, access tokens %v, issuer latency %v",
		cfg.Sidecars, cfg.TokenEvery, cfg.ForceEvery, cfg.AppServerEvery, cfg.Duration, cfg.AccessTTL, cfg.IssuerLatency)

	runCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	var mu sync.Mutex
	seen := map[string]time.Time{} // access token -> first sight in auth.json
	note := func(msg string) {
		if len(res.FirstErrors) < 5 && !slices.Contains(res.FirstErrors, msg) {
			res.FirstErrors = append(res.FirstErrors, msg)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { // auth.json watcher for the adoption latency
		for runCtx.Err() == nil {
			if a, err := ReadAuth(cfg.Home); err == nil && a.Tokens != nil {
				mu.Lock()
				if _, ok := seen[a.Tokens.AccessToken]; !ok {
					seen[a.Tokens.AccessToken] = time.Now()
				}
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	})
	for _, p := range sidecars {
		wg.Go(func() {
			var newest time.Time
			served := map[string]bool{}
			nextForce := time.Now().Add(cfg.ForceEvery)
			for runCtx.Err() == nil {
				force := cfg.ForceEvery > 0 && !time.Now().Before(nextForce)
				if force {
					nextForce = time.Now().Add(cfg.ForceEvery)
				}
				var tok struct {
					AccessToken string `json:"accessToken"`
				}
				cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
				err := p.Call(cctx, "account/token", map[string]bool{"refresh": force}, &tok)
				cancel()
				now := time.Now()
				mu.Lock()
				res.TokenCalls++
				if force {
					res.ForcedCalls++
				}
				if err != nil {
					res.TokenErrors++
					note(p.Name + ": " + err.Error())
				} else if exp, ok := store.TokenExpiry(tok.AccessToken); ok {
					if exp.Before(newest) {
						res.Regressions++
					}
					if exp.After(newest) {
						newest = exp
					}
					if now.After(exp.Add(time.Second)) {
						res.StaleTokens++
					}
					if !served[tok.AccessToken] {
						served[tok.AccessToken] = true
						if at, ok := seen[tok.AccessToken]; ok {
							res.AdoptLatencies = append(res.AdoptLatencies, now.Sub(at))
						}
					}
				}
				mu.Unlock()
				if errors.Is(err, ErrEnded) {
					return
				}
				sleepCtx(runCtx, cfg.TokenEvery)
			}
		})
	}
	if cfg.AppServerEvery > 0 {
		codexEnv := Env(cfg.Home, "CODEX_REFRESH_TOKEN_URL_OVERRIDE="+base+"/oauth/token")
		wg.Go(func() {
			for i := 0; runCtx.Err() == nil; i++ {
				started := time.Now()
				p, err := StartAppServer(ctx, fmt.Sprintf("app-server-%d", i), cfg.Codex, codexEnv)
				mu.Lock()
				res.AppServers++
				mu.Unlock()
				if err != nil {
					mu.Lock()
					res.ReadErrors++
					note(err.Error())
					mu.Unlock()
				} else {
					cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
					err := p.Call(cctx, "account/read", map[string]bool{"refreshToken": true}, nil)
					cancel()
					var rpcErr *RPCError
					if err != nil && !errors.As(err, &rpcErr) {
						mu.Lock()
						res.ReadErrors++ // no reply at all; an error reply is Codex's own business
						note(p.Name + ": " + err.Error())
						mu.Unlock()
					}
					Stop(p, 5*time.Second)
				}
				sleepCtx(runCtx, cfg.AppServerEvery-time.Since(started))
			}
		})
	}
	wg.Wait()
	after := iss.Stats()
	res.Refreshes = after.Refreshes - before.Refreshes
	res.ReuseDetections = after.ReuseDetections - before.ReuseDetections
	return res, ctx.Err()
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
