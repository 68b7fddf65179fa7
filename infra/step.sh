#!/usr/bin/env bash
# step.sh LABEL LOG CMD...: run CMD with its output appended to LOG and print one line for it:
# "LABEL ... done (Ns)", or on failure the exit status and the last lines of LOG.
set -uo pipefail
label=$1 log=$2
shift 2
mkdir -p "$(dirname "$log")"
t0=$SECONDS
printf '%s ...' "$label"
echo "=== $(date -u +%FT%TZ) $label: $*" >>"$log"
if "$@" >>"$log" 2>&1; then
  printf ' done (%ss)\n' $((SECONDS - t0))
else
  rc=$?
  printf ' FAILED (exit %s); last lines of %s:\n' "$rc" "$log"
  tail -n 30 "$log"
  exit "$rc"
fi
