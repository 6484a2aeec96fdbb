// Command stress is the long refresh stress of issue 6: 8 codex-auth
// sidecars on one CODEX_HOME asking for tokens for 30 s while access
// tokens live 4 s (refresh window 2 s), then the same beside one real
// Codex app-server; it prints the local issuer's reuse detections and the
// refreshes against the minimum. Run by make bench.
package main

// main.go: the stress benchmark.

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
	if failed {
		fmt.Println("stress: FAILED")
		os.Exit(1)
	}
}
