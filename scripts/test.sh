#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the binary, then runs every test with
# `bun test` (type-checking is one of them). Ends with "N passed, N failed" from bun's own counts.
# Usage: scripts/test.sh [bun test filters...]   (TEST_WORKERS=N: test files run N at a time, default 2)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh all || { echo "0 passed, 1 failed"; exit 1; }
node_modules/.bin/bun scripts/build.ts || { echo "0 passed, 1 failed"; exit 1; }
# The kernel is built once per content hash and cached outside the clone; build it before the
# tests start, so two test workers never build it into the same folder at once.
bash kernel-config/build.sh --print-dir >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Two workers, as many as the cores CI has: most files wait on processes, VMs and timers, so the
# suite takes far less than the sum of its files. .ci/test-timings.json (per-file durations of
# an earlier run) starts the slowest files first.
node_modules/.bin/bun test --parallel="${TEST_WORKERS:-2}" --timeout=30000 --timings=.ci/test-timings.json "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# bun prints its totals as " N pass", " N skip", " N fail" on lines of their own.
count() { grep -E "^ *[0-9]+ $1\$" "$log" | tail -1 | tr -dc 0-9; }
pass=$(count pass); fail=$(count fail); skip=$(count skip)
pass=${pass:-0}; fail=${fail:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi  # the runner itself failed
# A long run scrolls a failure's reason far above the totals: print it again next to them, from
# bun's "error:" line before each failed test to the test's own line (at most 5, 80 lines each,
# 300 characters a line).
if [ "$fail" -gt 0 ]; then
  # bun lists the failures again under "N tests failed:"; only the first listing has the reasons.
  end=$(grep -nE '^[0-9]+ tests? failed:$' "$log" | tail -1 | cut -d: -f1)
  head -n "${end:-$(wc -l < "$log")}" "$log" | grep -nE '^\(fail\) ' | cut -d: -f1 | head -5 | while read -r n; do
    from=$(head -n "$n" "$log" | grep -nE '^error' | tail -1 | cut -d: -f1)
    if [ -z "$from" ] || [ $(( n - from )) -gt 80 ]; then from=$(( n > 40 ? n - 40 : 1 )); fi
    echo "---- failure (line $n of the run) ----"
    # Lines cut at 300 characters: an assertion can print a whole console as one line.
    sed -n "${from},${n}p" "$log" | cut -c1-300
  done
fi
if [ -n "$skip" ] && [ "$skip" -gt 0 ]; then
  echo "${pass} passed, ${fail} failed, ${skip} skipped"
else
  echo "${pass} passed, ${fail} failed"
fi
exit "$rc"
