// Package testenv finds the real parts tests run against (the pinned Codex
// CLI, a Secret Service keyring, Neovim, the codex-auth binary).
//
// When a part is missing, a test fails with the way to install it if real
// parts are required (CI=true, or CODEX_AUTH_REAL_PARTS=required as set by
// make test), and skips with the same message elsewhere, so `go test ./...`
// works on a bare machine while CI never silently skips.
package testenv
