// Command serve measures the sidecar as an editor sees it, side by side
// with the Codex app-server on the same CODEX_HOME and with the floor, a
// bare jsonrpc2 v0.10.0 echo server (bench/internal/echoserver) (issue 3):
// spawn to the initialize reply, spawn to the first account/read reply,
// account/read round trips (p50/p99) on one connection, and RSS one second
// after start. It checks issue 3's targets: spawn to initialize within 1.5x
// of the bare server, RSS under 15 MiB.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/codex-auth/codex-auth/bench/internal/benchutil"
	"github.com/codex-auth/codex-auth/internal/e2e/e2eutil"
)

// peer is one server under test and its framing.
type peer struct {
	name    string
	args    []string
	framing e2eutil.Framing
}

type sample struct {
	init, firstRead time.Duration
	rssKiB          int64
	rtts            []time.Duration
}

// callTimeout bounds each call: generous, only for a hung server.
const callTimeout = 30 * time.Second

func run(p peer, home string, calls int) (sample, error) {
	var s sample
	start := time.Now()
	proc, err := e2eutil.Start(p.name, p.framing, p.args[0], p.args[1:], benchutil.Env(home))
	if err != nil {
		return s, err
	}
	defer func() { _ = proc.CloseStdin(); proc.Kill() }()
	call := func(method string, params any) error {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		return proc.Call(ctx, method, params, nil)
	}
	init := map[string]any{
		"processId": os.Getpid(), "clientInfo": map[string]any{"name": "bench", "version": "0"},
		"capabilities": map[string]any{}, "initializationOptions": map[string]any{"protocolVersion": "1"},
	}
	if err := call("initialize", init); err != nil {
		return s, fmt.Errorf("initialize: %w", err)
	}
	s.init = time.Since(start)
	if err := proc.Notify("initialized", map[string]any{}); err != nil {
		return s, err
	}
	read := func() error { return call("account/read", map[string]any{"refreshToken": false}) }
	if err := read(); err != nil {
		return s, fmt.Errorf("account/read: %w", err)
	}
	s.firstRead = time.Since(start)
	if d := time.Second - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	s.rssKiB = rss(proc.Pid())
	for i := 0; i < calls; i++ {
		t := time.Now()
		if err := read(); err != nil {
			return s, err
		}
		s.rtts = append(s.rtts, time.Since(t))
	}
	return s, nil
}

// rss reads VmRSS of a process in KiB.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// echoServerPkg is the bare jsonrpc2 server, built at start.
const echoServerPkg = "github.com/codex-auth/codex-auth/bench/internal/echoserver"

// Issue 3's targets.
const (
	targetInitRatio = 1.5 // spawn to initialize, ours/bare
	targetRSSMiB    = 15
)

// buildEchoServer builds the bare server into dir and returns its path.
func buildEchoServer(dir string) (string, error) {
	bin := filepath.Join(dir, "echoserver")
	out, err := exec.Command("go", "build", "-o", bin, echoServerPkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %v: %s", echoServerPkg, err, out)
	}
	return bin, nil
}

func main() {
	spawns := flag.Int("spawns", 7, "process starts per server")
	calls := flag.Int("calls", 10000, "account/read round trips on one connection")
	flag.Parse()
	ours, codex, err := benchutil.Binaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
	home, cleanup, err := benchutil.APIKeyHome(codex)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
	defer cleanup()
	binDir, err := os.MkdirTemp("", "codex-auth-bench-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(binDir)
	bare, err := buildEchoServer(binDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
	peers := []peer{
		{name: "codex-auth serve", args: []string{ours, "serve", "--stdio"}, framing: e2eutil.LSP},
		{name: "codex app-server", args: []string{codex, "app-server"}, framing: e2eutil.JSONLines},
		{name: "bare jsonrpc2", args: []string{bare}, framing: e2eutil.LSP},
	}
	type summary struct {
		init, read, p50, p99 time.Duration
		rss                  int64
	}
	var sums []summary
	for _, p := range peers {
		var inits, reads, rtts []time.Duration
		var rsss []int64
		for i := 0; i < *spawns; i++ {
			n := 0
			if i == 0 {
				n = *calls
			}
			s, err := run(p, home, n)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench/serve: %s: %v\n", p.name, err)
				os.Exit(1)
			}
			inits = append(inits, s.init)
			reads = append(reads, s.firstRead)
			rsss = append(rsss, s.rssKiB)
			rtts = append(rtts, s.rtts...)
		}
		sums = append(sums, summary{benchutil.Median(inits), benchutil.Median(reads),
			benchutil.Percentile(rtts, 50), benchutil.Percentile(rtts, 99), benchutil.MedianInt(rsss)})
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	fmt.Printf("sidecar start and account/read (medians of %d spawns; %d round trips)\n", *spawns, *calls)
	fmt.Printf("  %-18s %12s %14s %12s %12s %10s\n", "", "init (ms)", "1st read (ms)", "read p50 µs", "read p99 µs", "RSS MiB")
	for i, p := range peers {
		s := sums[i]
		fmt.Printf("  %-18s %12.2f %14.2f %12.1f %12.1f %10.1f\n", p.name, us(s.init)/1000, us(s.read)/1000, us(s.p50), us(s.p99), float64(s.rss)/1024)
	}
	a := sums[0]
	for _, r := range []struct {
		name string
		b    summary
	}{{"codex", sums[1]}, {"bare", sums[2]}} {
		b := r.b
		fmt.Printf("  ratio ours/%s: init %s, first read %s, read p50 %s, RSS %s\n", r.name,
			benchutil.Ratio(us(a.init), us(b.init)), benchutil.Ratio(us(a.read), us(b.read)),
			benchutil.Ratio(us(a.p50), us(b.p50)), benchutil.Ratio(float64(a.rss), float64(b.rss)))
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	initRatio := us(a.init) / us(sums[2].init)
	rssMiB := float64(a.rss) / 1024
	fmt.Printf("  targets: init within %.1fx of bare %s (%.2fx), RSS under %d MiB %s (%.1f MiB)\n",
		targetInitRatio, verdict(sums[2].init > 0 && initRatio <= targetInitRatio), initRatio,
		targetRSSMiB, verdict(rssMiB < targetRSSMiB), rssMiB)
}
