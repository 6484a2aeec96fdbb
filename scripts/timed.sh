#!/usr/bin/env bash
# timed.sh NAME CMD...: runs CMD, then prints how long suite NAME took (and appends it to .cache/suite-times).
set -uo pipefail
name="$1"; shift
start=$(date +%s.%N)
status=0
"$@" || status=$?
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
word=ok; ((status == 0)) || word="FAILED (exit $status)"
line=$(printf 'suite %-10s %7s s  %s' "$name" "$secs" "$word")
echo "$line"
mkdir -p "$(dirname "${BASH_SOURCE[0]}")/../.cache"
echo "$line" >>"$(dirname "${BASH_SOURCE[0]}")/../.cache/suite-times"
exit "$status"
