#!/usr/bin/env bash
# with-keyring.sh CMD...: runs CMD in a private D-Bus session with an unlocked, throwaway gnome-keyring.
#
# The keyring lives in a temporary XDG_DATA_HOME (with its own XDG_RUNTIME_DIR
# and TMPDIR) that is removed afterwards, so tests never see or touch the
# user's keyring. The keyring is checked with secret-tool (store, lookup,
# clear a probe item) before CMD runs; if that fails the script fails loudly.
# The exit status is CMD's.
set -euo pipefail

die() { printf 'with-keyring: error: %s\n' "$*" >&2; exit 1; }

if [[ "${1:-}" == --inside-session ]]; then
	shift
	# Inside dbus-run-session: start the secrets component, unlocked with an
	# empty password (the login keyring is created on first start).
	echo "" | gnome-keyring-daemon --foreground --unlock --components=secrets \
		>"$WITH_KEYRING_DIR/gnome-keyring.log" 2>&1 &
	keyring_pid=$!
	trap 'kill "$keyring_pid" 2>/dev/null || true; wait "$keyring_pid" 2>/dev/null || true' EXIT
	for _ in $(seq 100); do
		if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
			org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
			grep -q 'boolean true'; then
			break
		fi
		kill -0 "$keyring_pid" 2>/dev/null || break
		sleep 0.1
	done
	probe="probe-$$-$RANDOM"
	if ! printf '%s' "$probe" | timeout 10 secret-tool store --label='with-keyring probe' \
			app with-keyring probe "$probe" ||
		[[ "$(timeout 10 secret-tool lookup app with-keyring probe "$probe" || true)" != "$probe" ]] ||
		! timeout 10 secret-tool clear app with-keyring probe "$probe" ||
		[[ -n "$(timeout 10 secret-tool lookup app with-keyring probe "$probe" || true)" ]]; then
		cat "$WITH_KEYRING_DIR/gnome-keyring.log" >&2 || true
		die "the Secret Service keyring does not work (secret-tool store/lookup/clear of a probe item failed)"
	fi
	unset WITH_KEYRING_DIR
	status=0
	"$@" || status=$?
	exit "$status"
fi

(($#)) || die "usage: scripts/with-keyring.sh CMD [ARGS...]"
for cmd in dbus-run-session dbus-send gnome-keyring-daemon secret-tool; do
	command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: run scripts/deps.sh"
done

# A short path: tests put Unix sockets under TMPDIR (108-byte limit).
dir="$(mktemp -d /tmp/kr.XXXXXX)"
cleanup() { rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -m 0700 "$dir/data" "$dir/run" "$dir/tmp"

status=0
env -u GNOME_KEYRING_CONTROL -u SSH_AUTH_SOCK -u DBUS_SESSION_BUS_ADDRESS \
	WITH_KEYRING_DIR="$dir" \
	XDG_DATA_HOME="$dir/data" \
	XDG_RUNTIME_DIR="$dir/run" \
	TMPDIR="$dir/tmp" \
	dbus-run-session -- "$0" --inside-session "$@" || status=$?
exit "$status"
