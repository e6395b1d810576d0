#!/usr/bin/env bash
#  policy_equal.sh - the scheduler running warmup-eval's policies live
#  (policy = NAME): for each policy and budget, a fresh warmupd --replay
#  with that policy, warmupctl replay a round per request, then warmup-eval
#  --policy NAME on the same trace; prints both rows as a markdown table
#  (they must be equal to the last digit; test_replay asserts it for
#  icebreaker after a reload and for the example plug-in).
#
#  Usage: bench/policy_equal.sh [TRACE CATALOG]
#         (default: the bundled hour data/servegen-dev-1h; policies
#         icebreaker, keepalive:600, hybrid-histogram and the example
#         plug-in, at budgets 0 and 262144 MB; about 3 minutes)
#  The table goes into docs/extending.md with
#      python3 tools/eval_tables.py splice docs/extending.md policy-equal TABLE_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
TRACE=${1:-data/servegen-dev-1h/trace.csv.gz}
CATALOG=${2:-data/servegen-dev-1h/catalog.csv}
for p in warmupd warmupctl warmup-eval; do
    [ -x "$BIN/$p" ] || { echo "policy_equal: build first (tools/setup.sh)" >&2; exit 1; }
done
. bench/lib.sh
cc -shared -fPIC -O2 -I include -o "$WORK/adaptive_keepalive.so" examples/adaptive_keepalive.c
PLUGIN="plugin:$WORK/adaptive_keepalive.so"

value () {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
p=d['policies'][0]; print(p[sys.argv[2]])" "$@"
}
echo "| policy | budget MB | run | cold_starts | delayed | cold_wait_s | resident_gb_s | prewarms |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
for policy in icebreaker keepalive:600 hybrid-histogram "$PLUGIN"; do
    for budget in 0 262144; do
        rm -rf "$WORK/var"
        printf 'policy = "%s"\n' "$policy" > "$WORK/warmup.cfg"
        ENDPOINTS=(--pub-endpoint "ipc://$WORK/pub" --sub-endpoint "ipc://$WORK/sub")
        bench_start -c "$WORK/warmup.cfg" --replay --catalog "$CATALOG" \
            --max-memory-mb "$budget" --data-dir "$WORK/var" --metrics-listen off \
            "${ENDPOINTS[@]}"
        "$BIN/warmupctl" "${ENDPOINTS[@]}" replay --trace "$TRACE" --catalog "$CATALOG" \
            --budget-mb "$budget" --lockstep --per-request --json --quiet > "$WORK/live.json"
        bench_stop
        "$BIN/warmup-eval" --trace "$TRACE" --catalog "$CATALOG" --budget-mb "$budget" \
            --policy "$policy" --no-baselines --quiet --json > "$WORK/eval.json"
        name=$policy
        [ "$policy" = "$PLUGIN" ] && name="plugin:adaptive_keepalive.so"
        for row in "eval.json warmup-eval" "live.json warmupctl-replay"; do
            set -- $row
            printf "| \`%s\` | %s | \`%s\` | %s | %s | %s | %s | %s |\n" "$name" "$budget" "$2" \
                "$(value "$WORK/$1" cold_starts)" "$(value "$WORK/$1" delayed)" \
                "$(value "$WORK/$1" cold_wait_s)" "$(value "$WORK/$1" resident_gb_s)" \
                "$(value "$WORK/$1" prewarms)"
        done
    done
done
