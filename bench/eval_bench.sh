#!/usr/bin/env bash
#  eval_bench.sh - replay rate of warmup-eval per policy on the two dev traces
#  bundled in data/.
#
#  Each policy runs alone (--no-baselines: no implicit keepalive:600/ollama)
#  on one core, at budget 0, with per-event timing on as in normal use.
#  Prints the machine, then one line per policy and trace: requests, wall
#  seconds of the replay pass and millions of requests per second. The
#  targets: keepalive:600 >= 5 M req/s on azure-functions-2019; predictive
#  >= 1 M req/s and under 1 KiB of state per active (user, model) pair,
#  printed in the last column (the "report" of its JSON: state bytes at
#  the end / pairs).
#
#  Usage: bench/eval_bench.sh [policy ...]
#  Env:   WARMUP_EVAL (default build-eval/bin/warmup-eval, then build/bin/...)
#         WP_DATA_DIR (default data/ of this repository)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${WARMUP_EVAL:-}
if [ -z "$BIN" ]; then
    for b in build-eval/bin/warmup-eval build/bin/warmup-eval; do
        [ -x "$b" ] && BIN=$b && break
    done
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "eval_bench: build warmup-eval first (or set WARMUP_EVAL)" >&2; exit 1; }
DATA=${WP_DATA_DIR:-data}
[ -f "$DATA/servegen-dev/trace.csv.gz" ] || { echo "eval_bench: no traces in $DATA (set WP_DATA_DIR)" >&2; exit 1; }

if [ $# -gt 0 ]; then
    POLICIES=("$@")
else
    POLICIES=(keepalive:600 ollama lru:4 lmstudio lemonade hybrid-histogram greedy-dual
              icebreaker preload-markov oracle predictive)
fi

echo "machine: $(uname -srm), $(nproc) cpu(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "memory:  $(free -g | awk '/Mem:/ {print $2 " GiB"}'), compiler: $(cc --version | head -1)"
echo "binary:  $BIN"
printf "%-26s %-18s %10s %9s %9s %10s\n" trace policy requests seconds "M req/s" "B/pair"
run () {
    local name=$1 trace=$2 catalog=$3 policy=$4
    local line json
    json=$(mktemp)
    line=$(taskset -c 0 "$BIN" --trace "$trace" --catalog "$catalog" \
               --budget-mb 0 --policy "$policy" --no-baselines --json 2>&1 >"$json" \
           | grep 'replayed' || true)
    local per_pair
    #  Only a policy with a report has it (no match is not an error).
    per_pair=$( (grep -oE '"bytes_per_pair":[0-9.]+' "$json" || true) | cut -d: -f2 | tail -1)
    rm -f "$json"
    # "warmup-eval: replayed N requests through K simulations in S s (R M req/s)"
    local req sec rate
    req=$(echo "$line" | awk '{print $3}')
    sec=$(echo "$line" | awk '{for (i=1;i<=NF;i++) if ($i=="in") print $(i+1)}')
    rate=$(echo "$line" | sed -E 's/.*\(([0-9.]+)M req\/s\).*/\1/')
    printf "%-26s %-18s %10s %9s %9s %10s\n" "$name" "$policy" "$req" "$sec" "$rate" "${per_pair:--}"
}
for p in "${POLICIES[@]}"; do
    run azure-functions-2019 "$DATA/azure-functions-2019/1250_inv.csv" \
        "$DATA/azure-functions-2019/catalog.csv" "$p"
done
for p in "${POLICIES[@]}"; do
    run servegen-dev "$DATA/servegen-dev/trace.csv.gz" \
        "$DATA/servegen-dev/catalog.csv" "$p"
done
