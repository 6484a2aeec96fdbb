package store

import "unicode/utf8"

// MaskAPIKey is Codex's mask for `login status`: the first 8 bytes, "***",
// the last 5 bytes; a key of 13 bytes or fewer shows only "***" (checked
// against Codex CLI 0.171.0). A key whose cut would split a UTF-8
// character also shows only "***" (Codex would panic there).
func MaskAPIKey(key string) string {
	const prefix, suffix = 8, 5
	if len(key) <= prefix+suffix {
		return "***"
	}
	tail := len(key) - suffix
	if !utf8.RuneStart(key[prefix]) || !utf8.RuneStart(key[tail]) {
		return "***"
	}
	return key[:prefix] + "***" + key[tail:]
}
