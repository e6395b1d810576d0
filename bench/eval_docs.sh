#!/usr/bin/env bash
#  eval_docs.sh - every result table of docs/evaluation.md, and
#  docs/eval-frontier.svg, written again from the tools' JSON in one
#  command: results.sh (every policy; predictive's report and state),
#  frontier.sh (the headline), pins.sh (pins and priorities),
#  replay_equal.sh (the live system against warmup-eval) and eval_bench.sh
#  (the replay rate; it varies with what else the machine runs). Each table goes
#  between its <!-- BEGIN name --> and <!-- END name --> markers; the JSON
#  and the tables stay in OUT. `git diff docs/` then shows what changed.
#  About 40 minutes on 2 cores.
#
#  Usage: bench/eval_docs.sh [OUT]      (default build/eval-docs/)
#  Env:   WARMUP_EVAL (default build/bin/warmup-eval)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/eval-docs}
for p in warmup-eval warmupd warmupctl; do
    [ -x "build/bin/$p" ] || { echo "eval_docs: build first (tools/setup.sh)" >&2; exit 1; }
done
#  The tables this command writes: they must be exactly the doc's markers,
#  so that none is left behind, copied by hand (checked before the runs).
TABLES="frontier pins rate replay-equal report-azure report-servegen results-azure-0
results-azure-262144 results-servegen-0 results-servegen-2097152 state"
markers=$(sed -n 's/^<!-- BEGIN \([a-z0-9-]*\) -->$/\1/p' docs/evaluation.md | sort)
if [ "$markers" != "$(echo $TABLES | tr ' ' '\n' | sort)" ]; then
    echo "eval_docs: docs/evaluation.md's tables are not the ones this writes:" >&2
    diff <(echo "$markers") <(echo $TABLES | tr ' ' '\n' | sort) >&2 || true
    exit 1
fi
mkdir -p "$OUT"
splice () {
    python3 tools/eval_tables.py splice docs/evaluation.md "$1" "$2"
}
bench/results.sh "$OUT/results"
bench/frontier.sh "$OUT/frontier" > /dev/null
echo "eval_docs: pins and priorities" >&2
bench/pins.sh "$OUT/pins" > "$OUT/pins.md"
splice pins "$OUT/pins.md"
echo "eval_docs: the live replay against warmup-eval" >&2
bench/replay_equal.sh > "$OUT/replay-equal.md"
splice replay-equal "$OUT/replay-equal.md"
echo "eval_docs: the rate of keepalive:600 and predictive, each alone on one core" >&2
bench/eval_bench.sh keepalive:600 predictive > "$OUT/rate.txt"
awk 'BEGIN {print "| trace | policy | requests | seconds | M req/s |"; print "|---|---|---:|---:|---:|"}
     $1 ~ /^(azure|servegen)/ {printf "| %s | `%s` | %s | %s | %s |\n", $1, $2, $3, $4, $5}' \
    "$OUT/rate.txt" > "$OUT/rate.md"
splice rate "$OUT/rate.md"
echo "eval_docs: docs/evaluation.md and docs/eval-frontier.svg written from $OUT" >&2
