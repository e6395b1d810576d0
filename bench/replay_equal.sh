#!/usr/bin/env bash
#  replay_equal.sh - the live system against warmup-eval: replays a trace
#  through a fresh warmupd (all seven components, lock-step by windows) at
#  several memory budgets and runs warmup-eval's predictive on the same
#  trace, and prints both rows per budget as a markdown table (they must
#  be equal to the last digit; test_replay asserts it on slices).
#
#  Usage: bench/replay_equal.sh [TRACE CATALOG [BUDGET_MB ...]]
#         (default: the bundled hour data/servegen-dev-1h at 0, 131072,
#         262144 and 1048576 MB; about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
TRACE=${1:-data/servegen-dev-1h/trace.csv.gz}
CATALOG=${2:-data/servegen-dev-1h/catalog.csv}
shift $(( $# > 2 ? 2 : $# ))
BUDGETS=("$@")
[ ${#BUDGETS[@]} -gt 0 ] || BUDGETS=(0 131072 262144 1048576)
for p in warmupd warmupctl warmup-eval; do
    [ -x "$BIN/$p" ] || { echo "replay_equal: build first (tools/setup.sh)" >&2; exit 1; }
done
. bench/lib.sh

#  One metric of one policy row of warmup-eval's JSON.
value () {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
p=[p for p in d['policies'] if p['name']==sys.argv[2]][0]; print(p[sys.argv[3]])" "$@"
}
echo "| budget MB | run | cold_starts | delayed | cold_wait_s | resident_gb_s | prewarms | useful_prewarms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for budget in "${BUDGETS[@]}"; do
    rm -rf "$WORK/var"
    ENDPOINTS=(--pub-endpoint "ipc://$WORK/pub" --sub-endpoint "ipc://$WORK/sub")
    bench_start --replay --catalog "$CATALOG" --max-memory-mb "$budget" \
        --data-dir "$WORK/var" --metrics-listen off "${ENDPOINTS[@]}"
    start=$(date +%s.%N)
    "$BIN/warmupctl" "${ENDPOINTS[@]}" replay --trace "$TRACE" --catalog "$CATALOG" \
        --budget-mb "$budget" --lockstep --json > "$WORK/live.json"
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    bench_stop
    "$BIN/warmup-eval" --trace "$TRACE" --catalog "$CATALOG" --budget-mb "$budget" \
        --policy predictive --no-baselines --quiet --json > "$WORK/eval.json"
    for row in "eval.json predictive warmup-eval" "live.json predictive-live warmupctl-replay"; do
        set -- $row
        printf "| %s | \`%s\` | %s | %s | %s | %s | %s | %s |\n" "$budget" "$3" \
            "$(value "$WORK/$1" "$2" cold_starts)" "$(value "$WORK/$1" "$2" delayed)" \
            "$(value "$WORK/$1" "$2" cold_wait_s)" "$(value "$WORK/$1" "$2" resident_gb_s)" \
            "$(value "$WORK/$1" "$2" prewarms)" "$(value "$WORK/$1" "$2" useful_prewarms)"
    done
    echo "replay_equal: budget $budget replayed live in $seconds s" >&2
done
