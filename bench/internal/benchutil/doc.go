// Package benchutil holds what the benchmark programs share: finding the
// binaries, a throwaway CODEX_HOME with an API key, and statistics.
package benchutil
