// Command leakscan is the editor clients' leak scan (issue #20): after
// their test suites ran with CODEX_AUTH_SCAN_DIR set (make clients), it
// reads every secret handled during the runs and fails if any appears in
// anything the clients, their sidecars or their tests wrote.
//
//	go run ./internal/leakscan -dir DIR -clients vscode,nvim,jetbrains [-min-secrets N]
//
// DIR holds a folder per client. In it, the secret files:
//
//	*.ledger        what `codex-auth dev issuer --ledger` recorded: every
//	                token, code, verifier, device auth id and API key the
//	                issuer minted or received ("KIND<TAB>SECRET" lines)
//	handed.secrets  what the tests typed in themselves (API keys), the same
//	                format, or one bare secret a line
//
// and every other file (recursively) is output to scan: the client's log,
// the sidecar's stderr and --log-file, messages, test output. Secrets are
// pooled over all clients, so one client's secret in another's log counts
// too.
//
// A secret is found when any 24-character piece of it (the whole of a
// shorter one) appears, so a truncated token is caught as well; a piece
// two different secrets share (a JWT header, a common claim prefix) is
// structure, not secret, and not looked for. A masked API key (first 8,
// "***", last 5) holds no such piece.
//
// It fails (exit 1) on a leak, naming the file, the kind of secret, a
// masked form ("rt_l***", length) and the secret file and line it came
// from, never the secret; and when a client's folder is missing, has no
// file to scan, or its secret files hold fewer than -min-secrets secrets
// (so an empty run cannot pass). Otherwise it prints one line: clients,
// files and bytes scanned, secrets looked for.
package main
