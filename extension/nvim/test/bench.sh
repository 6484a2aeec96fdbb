#!/usr/bin/env bash
# make bench: the plugin's load time and its first status() (spawning the
# sidecar, initialize, account/read), in ms, median of BENCH_RUNS headless
# Neovim runs against $CODEX_AUTH_BIN, signed in with an API key in a
# fresh home. CODEX_BIN is checked like the tests do but not used.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(dirname "$here")"
NVIM="${NVIM:-nvim}"
RUNS="${BENCH_RUNS:-9}"

die() {
	echo "bench-nvim: $*" >&2
	exit 1
}
[[ -n "${CODEX_AUTH_BIN:-}" && -x "${CODEX_AUTH_BIN}" ]] || die "CODEX_AUTH_BIN (${CODEX_AUTH_BIN:-unset}) is not an executable: build it with 'go build -o bin/codex-auth ./cmd/codex-auth' at the repository root"
[[ -n "${CODEX_BIN:-}" && -x "${CODEX_BIN}" ]] || die "CODEX_BIN (${CODEX_BIN:-unset}) is not an executable: install the Codex CLI with 'make deps'"
command -v "$NVIM" >/dev/null || die "$NVIM not found: install Neovim (apt-get install -y neovim)"
CODEX_AUTH_BIN="$(cd "$(dirname "$CODEX_AUTH_BIN")" && pwd)/$(basename "$CODEX_AUTH_BIN")"

work="$(mktemp -d "${TMPDIR:-/tmp}/codex-auth-nvim-bench.XXXXXX")"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
home="$work/home"
mkdir -m 700 "$home" && mkdir "$home/.no-system-config"
env=(
	"HOME=$home" "CODEX_HOME=$home" "CODEX_AUTH_SYSTEM_CONFIG_DIR=$home/.no-system-config"
	# Nothing here talks to an issuer; an unreachable one makes sure of it.
	"CODEX_AUTH_ISSUER=http://127.0.0.1:9"
	"PATH=$PATH" "LANG=${LANG:-C.UTF-8}" "TMPDIR=${TMPDIR:-/tmp}"
	"CODEX_AUTH_BIN=$CODEX_AUTH_BIN" "TEST_ROOT=$plugin" "BENCH_OUT=$work/out"
)
printf '%s' "sk-proj-bench$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
	env -i "${env[@]}" "$CODEX_AUTH_BIN" login --with-api-key >/dev/null 2>&1 ||
	die "codex-auth login --with-api-key failed"

for _ in $(seq 1 "$RUNS"); do
	env -i "${env[@]}" timeout 30 "$NVIM" --headless -u NONE -i NONE -n -c "luafile $here/bench.lua" \
		</dev/null >/dev/null 2>&1 || die "nvim failed or timed out"
done
if grep -q '^error' "$work/out"; then
	die "status() failed: $(grep -m1 '^error' "$work/out")"
fi
[[ "$(wc -l <"$work/out")" -eq "$RUNS" ]] || die "expected $RUNS results, got $(wc -l <"$work/out")"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load="$(awk '{ print $1 }' "$work/out" | median)"
first="$(awk '{ print $2 }' "$work/out" | median)"
echo "nvim $("$NVIM" --version | head -1 | sed 's/^NVIM //'), $RUNS runs (median):"
echo "  plugin load (plugin/codex_auth.lua + setup{}): $load ms"
echo "  first status() (spawn, initialize, account/read): $first ms"
