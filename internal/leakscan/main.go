package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: 0 no leak, 1 a leak or a run that proves nothing,
// 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leakscan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Dir, "dir", "", "the scan directory (CODEX_AUTH_SCAN_DIR), a folder per client")
	clients := fs.String("clients", "", "the clients that must be there, comma-separated (vscode,nvim,jetbrains)")
	fs.IntVar(&o.MinSecrets, "min-secrets", DefaultMinSecrets, "fewest secrets each client's secret files must hold")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, c := range strings.Split(*clients, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.Clients = append(o.Clients, c)
		}
	}
	if o.Dir == "" || len(o.Clients) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: leakscan -dir DIR -clients vscode,nvim,jetbrains [-min-secrets N]")
		return 2
	}
	rep, err := Scan(o)
	if err != nil {
		fmt.Fprintf(stderr, "leakscan: %v\n", err)
		return 1
	}
	for _, l := range rep.Leaks {
		fmt.Fprintf(stderr, "leakscan: LEAK %s\n", l)
	}
	summary := fmt.Sprintf("leakscan: %d clients (%s), %d files, %d bytes scanned for %d secrets",
		len(o.Clients), strings.Join(o.Clients, ", "), rep.Files, rep.Bytes, rep.Secrets)
	if len(rep.Leaks) > 0 {
		fmt.Fprintf(stderr, "%s: %d leaks\n", summary, len(rep.Leaks))
		return 1
	}
	fmt.Fprintf(stdout, "%s: none found\n", summary)
	return 0
}
