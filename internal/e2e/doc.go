// Package e2e holds the end-to-end tests of codex-auth: the real binary
// against the local issuer, next to the real Codex CLI and the real
// keyring, across processes (secrets never leak, refresh stress, a hanging
// issuer, sessions changed elsewhere, managed policy). It has no code of
// its own; the helpers shared with the benchmark programs are in e2eutil.
package e2e
