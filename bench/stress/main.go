// Command stress is the long refresh stress: 8 codex-auth sidecars on one
// CODEX_HOME asking for tokens for 30 s while access tokens live 4 s
// (refresh window 2 s), then the same beside one real Codex app-server;
// then issue 11's mixed runs (one app-server at a time, started every
// 1.5 s, forcing a refresh), 60 s each. It prints the local issuer's
// reuse detections and refreshes, and how long a token another process
// wrote takes to be served. Run by make bench.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/codex-auth/codex-auth/bench/internal/benchutil"
	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
)

func main() {
	bin, codex, err := benchutil.Binaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		os.Exit(1)
	}
	failed := false
	for _, apps := range []int{0, 1} {
		home, err := os.MkdirTemp("", "codex-auth-stress-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "stress:", err)
			os.Exit(1)
		}
		cfg := e2eutil.StressConfig{
			Bin: bin, Sidecars: 8, Codex: codex, AppServers: apps,
			Duration: 30 * time.Second, AccessTTL: 4 * time.Second, Window: 2 * time.Second,
			Home: home,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		res, err := e2eutil.RunStress(ctx, cfg)
		cancel()
		os.RemoveAll(home)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stress:", err)
			os.Exit(1)
		}
		fmt.Printf("stress: %d sidecars + %d codex app-server, %v, access tokens %v, window %v\n",
			cfg.Sidecars, apps, cfg.Duration, cfg.AccessTTL, cfg.Window)
		fmt.Printf("  reuse detections %d (want 0)\n", res.ReuseDetections)
		fmt.Printf("  refreshes %d, minimum %d (%s; want at most 1.5x without Codex, which refreshes on every account/read {refreshToken:true})\n",
			res.Refreshes, res.MinRefreshes, benchutil.Ratio(float64(res.Refreshes), float64(res.MinRefreshes)))
		fmt.Printf("  account/token calls %d, errors %d, expired tokens returned %d; app-server account/read calls %d, unanswered %d\n",
			res.TokenCalls, res.TokenErrors, res.StaleTokens, res.ReadCalls, res.ReadErrors)
		if res.ReuseDetections != 0 || res.TokenErrors != 0 || (apps == 0 && res.Refreshes > res.MinRefreshes*3/2) {
			failed = true
		}
	}
	if !mixed(bin, codex) {
		failed = true
	}
	if failed {
		fmt.Println("stress: FAILED")
		os.Exit(1)
	}
}

// mixed runs issue 11's mixed cases for 60 s each: 3 sidecars beside one
// codex app-server at a time, started every 1.5 s and forcing a refresh,
// against an issuer that takes 100 ms per refresh. It reports whether
// every run was free of reuse detections and errors.
func mixed(bin, codex string) bool {
	ok := true
	for _, c := range []struct {
		name  string
		force time.Duration
		ttl   time.Duration
	}{
		{"(a) tokens every 50 ms", 0, time.Hour},
		{"(b) and a forced refresh every 2 s", 2 * time.Second, time.Hour},
		{"(c) as (b), 20 s tokens (Codex refreshes at every start)", 2 * time.Second, 20 * time.Second},
	} {
		home, err := os.MkdirTemp("", "codex-auth-mixed-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "stress:", err)
			return false
		}
		cfg := e2eutil.MixedConfig{
			Bin: bin, Sidecars: 3, Codex: codex, AppServerEvery: 1500 * time.Millisecond,
			TokenEvery: 50 * time.Millisecond, ForceEvery: c.force, Duration: 60 * time.Second,
			AccessTTL: c.ttl, IssuerLatency: 100 * time.Millisecond, Home: home,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		res, err := e2eutil.RunMixed(ctx, cfg)
		cancel()
		os.RemoveAll(home)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stress:", err)
			return false
		}
		fmt.Printf("mixed %s: 3 sidecars + one codex app-server every 1.5 s, 60 s, access tokens %v, issuer 100 ms per refresh\n", c.name, c.ttl)
		fmt.Printf("  reuse detections %d (want 0); refreshes %d (Codex's and ours); app-servers %d\n", res.ReuseDetections, res.Refreshes, res.AppServers)
		fmt.Printf("  account/token calls %d (forced %d), errors %d, older token after a newer %d, expired %d\n",
			res.TokenCalls, res.ForcedCalls, res.TokenErrors, res.Regressions, res.StaleTokens)
		fmt.Printf("  from a token's write in auth.json by another process to a sidecar serving it: median %v, p95 %v (%d tokens)\n",
			benchutil.Median(res.AdoptLatencies).Round(time.Millisecond/10), benchutil.Percentile(res.AdoptLatencies, 95).Round(time.Millisecond/10), len(res.AdoptLatencies))
		if res.ReuseDetections != 0 || res.TokenErrors != 0 || res.Regressions != 0 {
			ok = false
		}
	}
	return ok
}
