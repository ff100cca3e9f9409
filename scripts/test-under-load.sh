#!/usr/bin/env bash
# Runs `npm test` N times (default 3) in a row on a clean clone of this checkout while a busy
# loop keeps every core loaded, and prints each run's time and result. The suite must pass
# every time (README, "Test suite under load").
#   bash scripts/test-under-load.sh [runs]
set -euo pipefail
runs=${1:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
git clone -q "$src" "$dir/arbor"
cd "$dir/arbor"
npm ci --no-audit --no-fund >/dev/null

loads=()
for _ in $(seq "$(nproc)"); do
  (while :; do :; done) &
  loads+=($!)
done
trap 'kill "${loads[@]}" 2>/dev/null || true' EXIT
echo "clone: $dir/arbor; $(nproc) busy loops running"

failed=0
for i in $(seq "$runs"); do
  start=$(date +%s)
  if npm test >"$dir/run-$i.log" 2>&1; then result=pass; else result=FAIL; failed=1; fi
  summary=$(grep -E '^ℹ (tests|pass|fail) ' "$dir/run-$i.log" | tr '\n' ' ')
  echo "run $i: $result in $(( $(date +%s) - start )) s ($summary) log: $dir/run-$i.log"
done
exit $failed
