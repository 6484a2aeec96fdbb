#!/usr/bin/env bash
# deps.sh: installs what the tests need (Debian packages, the pinned Codex CLI, staticcheck); quick when all is present.
#
# Debian packages are installed only when run as root; otherwise the missing
# ones are listed with the command to install them and the script exits 1.
# The npm and Go tools go into .cache/ inside the project (git-ignored).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$root/scripts/versions.env"
cache="$root/.cache"

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------
# package -> a command it provides (what the tests actually run).
declare -A provides=(
	[gnome-keyring]=gnome-keyring-daemon
	[dbus]=dbus-run-session
	[libsecret-tools]=secret-tool
	[neovim]=nvim
	[maven]=mvn
	[default-jdk-headless]=javac
)
missing=()
# neovim: the Neovim plugin's tests; maven and a JDK (17+): the JetBrains client's.
for pkg in gnome-keyring dbus libsecret-tools neovim maven default-jdk-headless; do
	command -v "${provides[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
# The Codex CLI is an npm package, and the VS Code extension's tests run on
# Node (20 or newer): node and npm come from Debian too when absent.
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
	if [[ "$(id -u)" != 0 ]]; then
		log "missing packages: ${missing[*]}"
		log "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
		log "then run scripts/deps.sh again"
		exit 1
	fi
	command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get: install them with your package manager"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	for pkg in "${missing[@]}"; do
		[[ -z "${provides[$pkg]:-}" ]] || command -v "${provides[$pkg]}" >/dev/null 2>&1 ||
			die "$pkg installed but ${provides[$pkg]} is still not on PATH"
	done
fi

# --- Codex CLI (npm @openai/codex, exact pinned version) -------------------
codex="$cache/npm/node_modules/.bin/codex"
want="codex-cli $CODEX_VERSION"
have="$("$codex" --version 2>/dev/null || true)"
if [[ "$have" != "$want" ]]; then
	log "installing @openai/codex@$CODEX_VERSION into .cache/npm"
	mkdir -p "$cache/npm"
	npm install --prefix "$cache/npm" --no-save --no-audit --no-fund --loglevel=error \
		"@openai/codex@$CODEX_VERSION" >/dev/null
	have="$("$codex" --version 2>/dev/null || true)"
	[[ "$have" == "$want" ]] || die "after npm install, $codex --version printed '${have}', want '$want'"
fi

# --- Go tools (GOBIN=.cache/bin) -------------------------------------------
# Rebuilt when the pinned version or the Go toolchain changes, since an
# analyzer built by an older Go cannot load packages of a newer one.
gover="$(go env GOVERSION)"
install_go_tool() { # name module-path/cmd version
	local name="$1" pkg="$2" version="$3" bin="$cache/bin/$1" info
	info="$(go version -m "$bin" 2>/dev/null || true)"
	if [[ "$info" == *"$bin: $gover"* && "$info" == *"$version"* ]]; then
		return
	fi
	log "installing $name $version"
	mkdir -p "$cache/bin"
	GOBIN="$cache/bin" go install "$pkg@$version"
}
install_go_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"

# --- The fuzzing toolchain (make fuzz) --------------------------------------
# The go command fetches it from the Go module proxy once (about 76 MB) and
# keeps it in the module cache.
fuzzgo="$(GOTOOLCHAIN="$FUZZ_GO_TOOLCHAIN" go env GOVERSION 2>&1)" ||
	die "the fuzzing toolchain $FUZZ_GO_TOOLCHAIN could not be fetched from the Go module proxy: $fuzzgo"
[[ "$fuzzgo" == "$FUZZ_GO_TOOLCHAIN" ]] || die "GOTOOLCHAIN=$FUZZ_GO_TOOLCHAIN go env GOVERSION printed '$fuzzgo'"

log "ok (codex $CODEX_VERSION, staticcheck $STATICCHECK_VERSION, $gover, fuzzing with $fuzzgo)"
