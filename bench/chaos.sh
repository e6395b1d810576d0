#!/usr/bin/env bash
#  chaos.sh - the chaos test's longer run, for the docs (not CI): the
#  per-process deployment under 2000 usage events/s, every component
#  (bus included) killed -9 and restarted ROUNDS times in turn; prints a
#  line per kill, then the stores compared with what a run that was not
#  killed holds (the analyzer's pair counts against the events sent, the
#  queue's tasks against the warms and cools asked for, perf's samples
#  against the warms done) and the totals (sent, seen, dropped by gap,
#  resyncs, loaded twice). Usage: bench/chaos.sh [ROUNDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-10}"
BUILD="${2:-build}"
[ -x "$BUILD/tests/test_chaos" ] || { echo "chaos: build first (tools/setup.sh)" >&2; exit 2; }
code=0
WP_CHAOS_ROUNDS="$ROUNDS" WP_BIN_DIR="$PWD/$BUILD/bin" WP_SOURCE_DIR="$PWD" \
    "$BUILD/tests/test_chaos" > "${TMPDIR:-/tmp}/chaos.$$" 2>&1 || code=$?
grep -E "^chaos:|twice|differ|^lost:|ERROR" "${TMPDIR:-/tmp}/chaos.$$" || true
rm -f "${TMPDIR:-/tmp}/chaos.$$"
if [ "$code" -eq 0 ]; then echo "chaos: every check passed"; else echo "chaos: FAILED"; fi
exit "$code"
