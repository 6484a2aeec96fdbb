#!/usr/bin/env bash
# The Neovim plugin's tests: headless Neovim against the real codex-auth
# binary ($CODEX_AUTH_BIN), the local issuer it bundles and the real Codex
# CLI ($CODEX_BIN). Nothing is skipped: a missing part fails.
#
#   CODEX_AUTH_BIN=bin/codex-auth CODEX_BIN=.cache/npm/node_modules/.bin/codex extension/nvim/test/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="$(dirname "$here")"
NVIM="${NVIM:-nvim}"
# Per Neovim run; the whole suite takes a few seconds.
NVIM_TIMEOUT="${NVIM_TIMEOUT:-60}"

die() {
	echo "test-nvim: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

[[ -n "${CODEX_AUTH_BIN:-}" ]] || die "CODEX_AUTH_BIN is not set: build the binary (cd the repository root && go build -o bin/codex-auth ./cmd/codex-auth) and set CODEX_AUTH_BIN=\$PWD/bin/codex-auth"
[[ -x "$CODEX_AUTH_BIN" ]] || die "CODEX_AUTH_BIN=$CODEX_AUTH_BIN is not an executable: build it with 'go build -o bin/codex-auth ./cmd/codex-auth' (or 'make build') at the repository root"
[[ -n "${CODEX_BIN:-}" ]] || die "CODEX_BIN is not set: install the Codex CLI (make deps, or npm install @openai/codex) and set CODEX_BIN to its codex"
[[ -x "$CODEX_BIN" ]] || die "CODEX_BIN=$CODEX_BIN is not an executable: install the Codex CLI with 'make deps' (scripts/deps.sh)"
command -v "$NVIM" >/dev/null || die "$NVIM not found: install Neovim (apt-get install -y neovim, 0.7 or later)"
command -v curl >/dev/null || die "curl not found (the fake browser): install it (apt-get install -y curl)"
command -v timeout >/dev/null || die "timeout not found: install coreutils"
CODEX_AUTH_BIN="$(cd "$(dirname "$CODEX_AUTH_BIN")" && pwd)/$(basename "$CODEX_AUTH_BIN")"
CODEX_BIN="$(cd "$(dirname "$CODEX_BIN")" && pwd)/$(basename "$CODEX_BIN")"

work="$(mktemp -d "${TMPDIR:-/tmp}/codex-auth-nvim.XXXXXX")"
chmod 700 "$work"
# The leak scan (make clients; internal/leakscan): with CODEX_AUTH_SCAN_DIR
# set, the issuer keeps a ledger of every secret it handled, harness.lua
# notes the secrets the tests handle and saves messages and notifications,
# and cleanup saves every log (the plugin's, vim.lsp's, Neovim's stderr, the
# issuer's, the results) there, under nvim/.
scan=""
ledger=()
if [[ -n "${CODEX_AUTH_SCAN_DIR:-}" ]]; then
	scan="$CODEX_AUTH_SCAN_DIR/nvim"
	mkdir -p -m 700 "$scan"
	ledger=(--ledger "$scan/issuer.ledger")
fi
issuer_pid=""
save_logs() {
	[[ -n "$scan" ]] || return 0
	local f name
	if [[ -f "$work/issuer.log" ]]; then install -m 600 "$work/issuer.log" "$scan/issuer.stderr"; fi
	if [[ -f "${results:-}" ]]; then install -m 600 "$results" "$scan/results.log"; fi
	for f in "$work"/*.stderr; do
		if [[ -f "$f" ]]; then install -m 600 "$f" "$scan/nvim-$(basename "$f")"; fi
	done
	for name in offline e2e accounts accounts_updated; do
		if [[ -d "$work/$name" ]]; then
			while IFS= read -r -d '' f; do
				install -m 600 "$f" "$scan/$name-$(basename "$f")"
			done < <(find "$work/$name" -type f -name '*.log' -print0)
		fi
	done
	return 0
}
cleanup() {
	if [[ -n "$issuer_pid" ]]; then
		kill "$issuer_pid" 2>/dev/null || true
		wait "$issuer_pid" 2>/dev/null || true
	fi
	save_logs
	rm -rf "$work"
}
trap cleanup EXIT

results="$work/results"
: >"$results"

# The local issuer; its first stdout line is its base URL.
mkfifo "$work/issuer.out"
# Two users: dev@example.com signs in until accounts.lua picks bob (accounts.lua
# and accounts_updated.lua, which run last, pick each user before signing in).
"$CODEX_AUTH_BIN" dev issuer --addr 127.0.0.1:0 --ports 0 --device-interval 1 "${ledger[@]}" \
	--user dev@example.com --user bob@example.com:team:ws-bob \
	>"$work/issuer.out" 2>"$work/issuer.log" &
issuer_pid=$!
exec {issuer_fd}<"$work/issuer.out"
base=""
read -r -t 20 -u "$issuer_fd" base || true
[[ "$base" == http://* ]] || { cat "$work/issuer.log" >&2; die "the local issuer did not start ($CODEX_AUTH_BIN dev issuer)"; }
echo "test-nvim: issuer at $base, $("$NVIM" --version | head -1)"

# A fresh home per run: HOME and CODEX_HOME (0700), an empty system config.
new_home() {
	local home="$work/$1"
	mkdir -m 700 "$home"
	mkdir "$home/.no-system-config"
	echo "$home"
}

# run_nvim NAME HOME FILE: one headless Neovim, its own environment only.
run_nvim() {
	local name="$1" home="$2" file="$3"
	local env=(
		"HOME=$home" "CODEX_HOME=$home" "CODEX_AUTH_SYSTEM_CONFIG_DIR=$home/.no-system-config"
		"CODEX_AUTH_ISSUER=$base" "CODEX_AUTH_CALLBACK_PORT=0"
		"PATH=$PATH" "LANG=${LANG:-C.UTF-8}" "TMPDIR=${TMPDIR:-/tmp}"
		"CODEX_AUTH_BIN=$CODEX_AUTH_BIN" "CODEX_BIN=$CODEX_BIN"
		"TEST_ROOT=$plugin" "TEST_ISSUER=$base" "TEST_RESULTS=$results" "TEST_FILE=$name"
		"TEST_PIDFILE=$work/$name.pid" "TEST_SCAN_DIR=$scan"
	)
	for key in DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR; do
		if [[ -n "${!key:-}" ]]; then env+=("$key=${!key}"); fi
	done
	local code=0
	env -i "${env[@]}" timeout "$NVIM_TIMEOUT" "$NVIM" --headless -u NONE -i NONE -n \
		-c "luafile $here/$file" </dev/null 2>"$work/$name.stderr" || code=$?
	if ! grep -qx "DONE $name" "$results"; then
		# Neovim died, timed out or quit before its last case.
		echo "FAIL $name: nvim exited $code before the end of $file" | tee -a "$results"
		echo "--- $name: nvim's stderr:" >&2
		tail -n 40 "$work/$name.stderr" >&2
	elif [[ $code -ne 0 ]] && [[ "$(grep -c '^FAIL ' "$results" || true)" -eq 0 ]]; then
		echo "FAIL $name: nvim exited $code with no case failed" | tee -a "$results"
	fi
	return 0
}

run_nvim offline "$(new_home offline)" offline.lua
run_nvim e2e "$(new_home e2e)" e2e.lua
run_nvim accounts "$(new_home accounts)" accounts.lua
run_nvim accounts_updated "$(new_home accounts_updated)" accounts_updated.lua

# After Neovim exits (VimLeavePre), its sidecar is gone.
pidfile="$work/e2e.pid"
if [[ -s "$pidfile" ]]; then
	pid="$(cat "$pidfile")"
	gone=""
	for _ in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then gone=1; break; fi
		sleep 0.05
	done
	if [[ -n "$gone" ]]; then
		echo "PASS the sidecar stopped with Neovim (VimLeavePre)" | tee -a "$results"
	else
		echo "FAIL the sidecar (pid $pid) is still running after Neovim exited" | tee -a "$results"
		kill "$pid" 2>/dev/null || true
	fi
else
	echo "FAIL no sidecar pid recorded by e2e.lua" | tee -a "$results"
fi

passed="$(grep -c '^PASS ' "$results" || true)"
failed="$(grep -c '^FAIL ' "$results" || true)"
echo "$passed passed, $failed failed"
[[ "$failed" -eq 0 && "$passed" -gt 0 ]]
