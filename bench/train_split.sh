#!/usr/bin/env bash
#  train_split.sh - does a trained model help on data it did not see?
#  Trains on the first part of each dev trace (warmupctl train), then
#  replays the rest with warmup-eval --policy predictive:W twice: learning
#  online from nothing, and starting from the model (--model). Prints the
#  EVAL.md section 6 cost (W x cold_wait_s + resident_gb_s) of both and
#  their ratio, with and without --population. Budget 0.
#
#  Usage: bench/train_split.sh   (azure: hours 0-12 / 12-24; servegen-dev:
#         days 0-3 / 4-6; W 1000 and 3000; about 15 minutes on 2 cores)
#  The table goes into docs/extending.md with
#      python3 tools/eval_tables.py splice docs/extending.md train-split TABLE_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/warmup-train-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "| trace | split ms | W | model | from nothing: cold_wait_s | resident_gb_s | trained: cold_wait_s | resident_gb_s | cost ratio |"
echo "|---|---:|---:|---|---:|---:|---:|---:|---:|"
for run in "azure data/azure-functions-2019/1250_inv.csv data/azure-functions-2019/catalog.csv 43200000" \
           "servegen data/servegen-dev/trace.csv.gz data/servegen-dev/catalog.csv 345600000"; do
    set -- $run
    name=$1 trace=$2 catalog=$3 split=$4
    for W in 1000 3000; do
        "$BIN/warmup-eval" --trace "$trace" --catalog "$catalog" --budget-mb 0 --from-ms "$split" \
            --policy "predictive:$W" --no-baselines --json --quiet > "$WORK/none.json"
        for extra in "" --population; do
            "$BIN/warmupctl" train --trace "$trace" --catalog "$catalog" --until-ms "$split" \
                --price "$W" $extra --out "$WORK/model" --quiet > /dev/null
            "$BIN/warmup-eval" --trace "$trace" --catalog "$catalog" --budget-mb 0 \
                --from-ms "$split" --policy "predictive:$W" --no-baselines --json --quiet \
                --model "$WORK/model" > "$WORK/model.json"
            python3 - "$name" "$split" "$W" "${extra:-default}" "$WORK/none.json" "$WORK/model.json" <<'PY'
import json, sys
name, split, w, kind, none, model = sys.argv[1:7]
a = json.load(open(none))['policies'][0]
b = json.load(open(model))['policies'][0]
cost = lambda p: float(w) * p['cold_wait_s'] + p['resident_gb_s']
print(f"| {name} | {split} | {w} | {kind} | {a['cold_wait_s']:.1f} | {a['resident_gb_s']:.1f} | "
      f"{b['cold_wait_s']:.1f} | {b['resident_gb_s']:.1f} | {cost(b) / cost(a):.4f} |")
PY
        done
    done
done
