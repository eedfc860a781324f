#!/usr/bin/env bash
# Run every collected test on its own (one pytest process per test id), so a test that only
# passes after another has run shows up. Usage: scripts/each-test-alone.sh [pytest paths or -k ...]
# Prints one line per failing id and a summary; exits 1 when any failed. Slow by design (a
# process and a store session per test): about 5 s per test on 2 cores.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
LOG=${EACH_ALONE_LOG:-test-artifacts/each-alone}
mkdir -p "$LOG"
mapfile -t ids < <("$BIN/pytest" --collect-only -q -p no:randomly "$@" 2>/dev/null | grep '::')
failed=0
for id in "${ids[@]}"; do
  safe=$(printf '%s' "$id" | tr -c 'A-Za-z0-9_.-' '_' | cut -c1-180)
  if ! "$BIN/pytest" -q -p no:randomly -p no:cacheprovider "$id" >"$LOG/$safe.log" 2>&1; then
    # pytest exits 5 when the id selects nothing (a parametrised id it cannot re-select): say so
    echo "FAILED ALONE: $id (log: $LOG/$safe.log)"
    failed=$((failed + 1))
  else
    rm -f "$LOG/$safe.log"
  fi
done
echo "each test alone: ${#ids[@]} run, $failed failed"
[ "$failed" -eq 0 ]
