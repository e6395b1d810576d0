#!/usr/bin/env bash
#  quickstart.sh - set up, start warmupd in replay mode on the bundled
#  slice of a real trace (data/servegen-dev-1h: the first hour of Alibaba
#  ServeGen's language-model trace, 20,482 requests; LICENSE and
#  PROVENANCE.md beside it), replay it through the live components in
#  event time (lock-step: deterministic), and print the EVAL.md metrics of
#  the live system, then what prediction saved against keepalive:600 on
#  the same slice (warmup-eval). About a minute.
#  Usage: tools/quickstart.sh   (a temporary data directory and ipc://
#  endpoints inside it; nothing else on the machine is touched)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
BIN=build/bin
DATA=data/servegen-dev-1h
BUDGET=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/warmup-quickstart-XXXXXX")
cleanup () {
    [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
ENDPOINTS=(--pub-endpoint "ipc://$WORK/pub" --sub-endpoint "ipc://$WORK/sub")

echo "== starting warmupd --replay (seven components, the trace's $(($(wc -l < $DATA/catalog.csv) - 1)) models, sim backend)"
$BIN/warmupd --replay --catalog $DATA/catalog.csv --max-memory-mb $BUDGET \
    --data-dir "$WORK/var" --metrics-listen off "${ENDPOINTS[@]}" > "$WORK/warmupd.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 100); do
    grep -q ready "$WORK/warmupd.log" 2>/dev/null && break
    if ! kill -0 "$DAEMON" 2>/dev/null; then cat "$WORK/warmupd.log"; exit 1; fi
    sleep 0.1
done
grep ready "$WORK/warmupd.log"

echo "== replaying $DATA/trace.csv.gz through it, in event time (lock-step, by windows of 4096 requests)"
$BIN/warmupctl "${ENDPOINTS[@]}" replay --trace $DATA/trace.csv.gz \
    --catalog $DATA/catalog.csv --budget-mb $BUDGET --lockstep --json > "$WORK/live.json"

echo "== the same slice through warmup-eval: predictive and keepalive:600"
$BIN/warmup-eval --trace $DATA/trace.csv.gz --catalog $DATA/catalog.csv \
    --budget-mb $BUDGET --policy predictive --policy keepalive:600 --no-baselines \
    --quiet --json > "$WORK/eval.json"

#  One metric of one policy from warmup-eval's JSON.
value () {
    grep -o "\"name\":\"$2\"[^}]*" "$1" | grep -o "\"$3\":[^,}]*" | cut -d: -f2
}
printf "\n%-16s %12s %10s %14s %18s %10s\n" policy cold_starts delayed cold_wait_s \
    resident_gb_s prewarms
for row in "live.json predictive-live" "eval.json predictive" "eval.json keepalive:600"; do
    set -- $row
    printf "%-16s %12s %10s %14s %18s %10s\n" "$2" "$(value "$WORK/$1" "$2" cold_starts)" \
        "$(value "$WORK/$1" "$2" delayed)" "$(value "$WORK/$1" "$2" cold_wait_s)" \
        "$(value "$WORK/$1" "$2" resident_gb_s)" "$(value "$WORK/$1" "$2" prewarms)"
done
awk -v lw="$(value "$WORK/live.json" predictive-live cold_wait_s)" \
    -v lm="$(value "$WORK/live.json" predictive-live resident_gb_s)" \
    -v kw="$(value "$WORK/eval.json" keepalive:600 cold_wait_s)" \
    -v km="$(value "$WORK/eval.json" keepalive:600 resident_gb_s)" 'BEGIN {
    printf "\nwhat prediction (the live system) saved against keepalive:600 on this slice:\n";
    printf "  cold wait:   %+.1f s (%+.1f %%)\n", kw - lw, 100 * (kw - lw) / kw;
    printf "  memory-time: %+.0f GiB*s (%+.1f %%)\n", km - lm, 100 * (km - lm) / km;
    printf "(negative = prediction spent more. The service starts this hour knowing\n";
    printf " nothing; docs/evaluation.md compares the whole traces, where it wins\n";
    printf " and where it does not.)\n" }'
