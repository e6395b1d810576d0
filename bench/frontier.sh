#!/usr/bin/env bash
#  frontier.sh - EVAL.md section 6, the headline: on each dev trace and on
#  the parts of them the engine was not tuned on, the cost of
#  predictive:W over the best fixed keep-alive with hindsight at W, and the
#  oracle's, for W in 100 ... 10000; writes docs/eval-frontier.svg and the
#  table into docs/evaluation.md (between its "frontier" markers), and
#  keeps the JSON of every run in OUT (default build/frontier/).
#
#  The parts: the engine's constants were chosen looking at days 0-3 of
#  servegen-dev and the first 12 hours of azure-functions-2019; days 4-6
#  and the second 12 hours were not looked at until the choice was made
#  (each part replayed on its own, from nothing learned).
#
#  Usage: bench/frontier.sh [OUT]     (about 15 minutes on 2 cores)
#  Env:   WARMUP_EVAL (default build/bin/warmup-eval)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${WARMUP_EVAL:-build/bin/warmup-eval}
OUT=${1:-build/frontier}
[ -x "$BIN" ] || { echo "frontier: build warmup-eval first (tools/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
AZ=(--trace data/azure-functions-2019/1250_inv.csv --catalog data/azure-functions-2019/catalog.csv)
SG=(--trace data/servegen-dev/trace.csv.gz --catalog data/servegen-dev/catalog.csv)
HALF_DAY=43200000
FOUR_DAYS=345600000

#  One trace (or part): the sweeps, then the oracle.
run () {
    local name=$1
    shift
    echo "frontier: $name" >&2
    "$BIN" "$@" --budget-mb 0 --policy keepalive --policy predictive --sweep --json --quiet \
        > "$OUT/$name.json"
    "$BIN" "$@" --budget-mb 0 --policy oracle --no-baselines --json --quiet \
        > "$OUT/$name-oracle.json"
}
run azure "${AZ[@]}"
run azure-first-12h "${AZ[@]}" --until-ms $HALF_DAY
run azure-last-12h "${AZ[@]}" --from-ms $HALF_DAY
run servegen "${SG[@]}"
run servegen-days-0-3 "${SG[@]}" --until-ms $FOUR_DAYS
run servegen-days-4-6 "${SG[@]}" --from-ms $FOUR_DAYS

python3 tools/cost_frontier.py --svg docs/eval-frontier.svg --md "$OUT/frontier.md" \
    "azure-functions-2019=$OUT/azure.json,$OUT/azure-oracle.json" \
    "azure, first 12 h (tuned on)=$OUT/azure-first-12h.json,$OUT/azure-first-12h-oracle.json" \
    "azure, last 12 h (held out)=$OUT/azure-last-12h.json,$OUT/azure-last-12h-oracle.json" \
    "servegen-dev=$OUT/servegen.json,$OUT/servegen-oracle.json" \
    "servegen, days 0-3 (tuned on)=$OUT/servegen-days-0-3.json,$OUT/servegen-days-0-3-oracle.json" \
    "servegen, days 4-6 (held out)=$OUT/servegen-days-4-6.json,$OUT/servegen-days-4-6-oracle.json"
python3 tools/eval_tables.py splice docs/evaluation.md frontier "$OUT/frontier.md"
cat "$OUT/frontier.md"
