// Package store reads and writes the credentials and configuration that
// codex-auth shares with the Codex CLI: $CODEX_HOME/auth.json, the OS
// keyring entry, the flock locks around them, and config.toml layers;
// and the saved accounts (saved.go): account-sessions.json and one auth
// record per account that became active, mirrored by the Store's writes.
//
// It knows bytes and places, not OAuth: interpreting tokens beyond reading
// their claims for display belongs to package session.
package store
