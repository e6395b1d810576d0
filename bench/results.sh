#!/usr/bin/env bash
#  results.sh - every policy on both dev traces, at budget 0 and at the
#  constrained budgets of EVAL.md section 5, and predictive's report (its
#  probabilities scored, the categories of pairs, its state per pair):
#  runs warmup-eval, keeps the JSON in OUT (default build/results/) and
#  writes the tables into docs/evaluation.md between their markers. About
#  15 minutes on 2 cores. bench/eval_docs.sh runs it with the others.
#
#  Usage: bench/results.sh [OUT]
#  Env:   WARMUP_EVAL (default build/bin/warmup-eval)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${WARMUP_EVAL:-build/bin/warmup-eval}
OUT=${1:-build/results}
[ -x "$BIN" ] || { echo "results: build warmup-eval first (tools/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
AZ=(--trace data/azure-functions-2019/1250_inv.csv --catalog data/azure-functions-2019/catalog.csv)
SG=(--trace data/servegen-dev/trace.csv.gz --catalog data/servegen-dev/catalog.csv)
for run in "azure 0" "azure 262144" "servegen 0" "servegen 2097152"; do
    set -- $run
    echo "results: $1 at budget $2" >&2
    if [ "$1" = azure ]; then args=("${AZ[@]}"); else args=("${SG[@]}"); fi
    "$BIN" "${args[@]}" --budget-mb "$2" --policy all --json --quiet > "$OUT/$1-$2.json"
    python3 tools/eval_tables.py table "$OUT/$1-$2.json" > "$OUT/$1-$2.md"
    python3 tools/eval_tables.py splice docs/evaluation.md "results-$1-$2" "$OUT/$1-$2.md"
done
for t in azure servegen; do
    python3 tools/eval_tables.py report "$OUT/$t-0.json" predictive > "$OUT/report-$t.md"
    python3 tools/eval_tables.py splice docs/evaluation.md "report-$t" "$OUT/report-$t.md"
done
python3 tools/eval_tables.py state "azure-functions-2019=$OUT/azure-0.json" \
    "servegen-dev=$OUT/servegen-0.json" > "$OUT/state.md"
python3 tools/eval_tables.py splice docs/evaluation.md state "$OUT/state.md"
