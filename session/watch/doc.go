// Package watch reports changes to the credential cache the session
// shares with the Codex CLI: CODEX_HOME's auth.json and config.toml (and
// the configuration layers) through fsnotify, and the keyring entry by
// polling, since the Secret Service reports no changes. It says only
// that something changed; the session re-reads and decides what it means.
package watch
