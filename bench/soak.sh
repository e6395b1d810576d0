#!/usr/bin/env bash
#  soak.sh - warmupd (all-in-one) under a steady load for a long time:
#  usage events posted to the proxy's HTTP API (POST /warmup/v1/usage, in
#  batches of 500) at RATE events/s, the users and models of a real trace, and
#  every INTERVAL seconds a line of what the process holds: resident
#  memory, open descriptors, threads, and the events the analyzer has taken
#  in so far (from /metrics). Memory must level off once every pair is
#  known (max_pairs bounds it), descriptors and threads must stay flat.
#
#  Usage: bench/soak.sh [MINUTES] [RATE] [INTERVAL] [TRACE]
#  Env:   WARMUP_BIN (default build/bin)
#         (default 60 minutes, 2000 events/s, a line a minute, the users
#         and models of data/servegen-dev)
#  Prints a markdown table (docs/architecture.md "Soak"); into the doc with
#      python3 tools/eval_tables.py splice docs/architecture.md soak TABLE_FILE
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-60}
RATE=${2:-2000}
INTERVAL=${3:-60}
TRACE=${4:-data/servegen-dev/trace.csv.gz}
BIN=${WARMUP_BIN:-build/bin}
[ -x "$BIN/warmupd" ] || { echo "soak: build first (tools/setup.sh)" >&2; exit 1; }
command -v curl >/dev/null || { echo "soak: curl is needed" >&2; exit 1; }
. bench/lib.sh

#  Batches of 500 events, written once: the users and models of a real
#  trace (TRACE, default the bundled servegen-dev week: 3.6 M requests),
#  every k-th request in the trace's order, 256 batches.
python3 - "$WORK" "$TRACE" <<'PY'
import csv, gzip, json, sys
work, trace = sys.argv[1], sys.argv[2]
opener = gzip.open if trace.endswith(".gz") else open
with opener(trace, "rt") as f:
    rows = [(r[1], r[2]) for i, r in enumerate(csv.reader(f)) if i > 0]
step = max(1, len(rows) // (256 * 500))
rows = rows[::step][:256 * 500]
for b in range(len(rows) // 500):
    events = [{"user": u, "model": m, "task": "completion"}
              for u, m in rows[b * 500:(b + 1) * 500]]
    with open(f"{work}/batch{b}.json", "w") as f:
        json.dump(events, f)
print(len({u for u, _ in rows}), "users,", len({m for _, m in rows}), "models,",
      len(rows), "events in batches", file=sys.stderr)
PY
BATCHES=$(ls "$WORK"/batch*.json | wc -l)
port () { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROXY=$(port)
METRICS=$(port)
bench_start --data-dir "$WORK/var" --pub-endpoint "ipc://$WORK/pub" \
    --sub-endpoint "ipc://$WORK/sub" --metrics-listen "127.0.0.1:$METRICS" \
    --proxy-listen "127.0.0.1:$PROXY" --proxy-upstream http://127.0.0.1:9

#  One line of what the process holds.
sample () {
    local rss fds threads events
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$DAEMON/status")
    threads=$(awk '/^Threads/ {print $2}' "/proc/$DAEMON/status")
    fds=$(ls "/proc/$DAEMON/fd" | wc -l)
    events=$(curl -s "http://127.0.0.1:$METRICS/metrics" \
             | awk '/^warmup_component_events_in_total\{component="analyzer"\}/ {print $2}')
    printf "| %s | %s | %.1f | %s | %s | %s |\n" "$1" "$2" "$(echo "$rss / 1024" | bc -l)" \
        "$fds" "$threads" "${events:-0}"
}
echo "| minute | events posted | RSS MiB | descriptors | threads | events taken in (analyzer) |"
echo "|---:|---:|---:|---:|---:|---:|"
sample 0 0
period=$(echo "500 / $RATE" | bc -l)
end=$(( $(date +%s) + MINUTES * 60 ))
next=$(( $(date +%s) + INTERVAL ))
posted=0 b=0 failed=0
while [ "$(date +%s)" -lt "$end" ]; do
    start=$(date +%s.%N)
    if curl -s -f -o /dev/null -H 'Content-Type: application/json' \
            --data-binary "@$WORK/batch$b.json" "http://127.0.0.1:$PROXY/warmup/v1/usage"; then
        posted=$((posted + 500))
    else
        failed=$((failed + 1))
    fi
    b=$(( (b + 1) % BATCHES ))
    rest=$(echo "$period - ($(date +%s.%N) - $start)" | bc -l)
    case "$rest" in -*|0) ;; *) sleep "$rest" ;; esac
    if [ "$(date +%s)" -ge "$next" ]; then
        sample "$(printf '%.1f' "$(echo "($(date +%s) - $end + $MINUTES * 60) / 60" | bc -l)")" \
            "$posted"
        next=$(( next + INTERVAL ))
    fi
done
echo "soak: $posted events posted in $MINUTES min, $failed batches refused; $(nproc) CPUs" >&2
