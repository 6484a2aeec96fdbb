// Command status compares `codex-auth login status` with the Codex CLI's
// `codex login status` on the same CODEX_HOME: whole-process wall time and
// max RSS, medians of several runs, printed with ratios (issue 2).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/codex-auth/codex-auth/bench/internal/benchutil"
)

func main() {
	runs := flag.Int("runs", 21, "runs per command")
	flag.Parse()
	ours, codex, err := benchutil.Binaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/status:", err)
		os.Exit(1)
	}
	home, cleanup, err := benchutil.APIKeyHome(codex)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/status:", err)
		os.Exit(1)
	}
	defer cleanup()

	measure := func(bin string) (time.Duration, int64, error) {
		var walls []time.Duration
		var rss []int64
		for i := 0; i < *runs; i++ {
			cmd := exec.Command(bin, "login", "status")
			cmd.Env = benchutil.Env(home)
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return 0, 0, fmt.Errorf("%s login status: %w", bin, err)
			}
			walls = append(walls, time.Since(start))
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = append(rss, ru.Maxrss) // KiB on Linux
			}
		}
		return benchutil.Median(walls), benchutil.MedianInt(rss), nil
	}
	ow, orss, err := measure(ours)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/status:", err)
		os.Exit(1)
	}
	cw, crss, err := measure(codex)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/status:", err)
		os.Exit(1)
	}
	fmt.Printf("login status, median of %d runs (API-key home)\n", *runs)
	fmt.Printf("  %-22s wall %8.2f ms   max RSS %6.1f MiB\n", "codex-auth", ms(ow), float64(orss)/1024)
	fmt.Printf("  %-22s wall %8.2f ms   max RSS %6.1f MiB\n", "codex (0.171.0)", ms(cw), float64(crss)/1024)
	fmt.Printf("  ratio codex-auth/codex: wall %s, RSS %s\n",
		benchutil.Ratio(ms(ow), ms(cw)), benchutil.Ratio(float64(orss), float64(crss)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
