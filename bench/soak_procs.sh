#!/usr/bin/env bash
#  soak_procs.sh - the per-process deployment (warmup-bus, the seven
#  components, warmup-proxy for the HTTP API) under a real trace for a long
#  time, with a kill -9 of one component every KILL_EVERY seconds, round
#  robin over the seven and the bus, each restarted at once. The load:
#  TRACE's requests (users and models) posted to the proxy's HTTP API at
#  event speed x SPEED (bench/trace_post.py; the trace loops when it ends).
#  Every INTERVAL seconds a line of what each process holds: resident
#  memory (MiB) and open descriptors, "RSS/fds". After each kill, a line
#  on stderr: how long the restart took to print ready and until every
#  component was back in `warmupctl status --require all`. At the end, the
#  sequence gaps and drops the metrics service counts (/metrics).
#
#  Usage: bench/soak_procs.sh [MINUTES] [SPEED] [KILL_EVERY] [INTERVAL] [TRACE]
#  Env:   WARMUP_BIN (default build/bin)
#         (default 60 minutes, x168 (servegen-dev's week in an hour, about
#         1000 events/s on average, bursts of several times that), a kill
#         every 180 s, a line a minute, data/servegen-dev/trace.csv.gz)
#  Prints a markdown table (docs/architecture.md "Soak per process").
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-60}
SPEED=${2:-168}
KILL_EVERY=${3:-180}
INTERVAL=${4:-60}
TRACE=${5:-data/servegen-dev/trace.csv.gz}
BIN=${WARMUP_BIN:-build/bin}
[ -x "$BIN/warmup-bus" ] || { echo "soak: build first (tools/setup.sh)" >&2; exit 1; }
command -v curl >/dev/null || { echo "soak: curl is needed" >&2; exit 1; }
. bench/lib.sh

port () { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PROXY=$(port)
METRICS=$(port)
cat > "$WORK/warmup.cfg" <<CFG
#   soak_procs.sh: the per-process deployment on ipc:// endpoints
metrics_listen = "127.0.0.1:$METRICS"
bus
    pub_endpoint = "ipc://$WORK/pub"
    sub_endpoint = "ipc://$WORK/sub"
store
    data_dir = "$WORK/var"
CFG
COMPONENTS=(analyzer engine scheduler queue perf resource metrics)
KILLED=(analyzer engine scheduler queue perf resource metrics bus)
SHOWN=(bus "${COMPONENTS[@]}" proxy)

bench_proc_start bus
for c in "${COMPONENTS[@]}"; do bench_proc_start "$c"; done
bench_proc_start proxy --proxy-listen "127.0.0.1:$PROXY" --proxy-upstream http://127.0.0.1:9
"$BIN/warmupctl" -c "$WORK/warmup.cfg" status --require all --timeout 30 >/dev/null

python3 bench/trace_post.py "http://127.0.0.1:$PROXY/warmup/v1/usage" "$TRACE" "$SPEED" \
    "$MINUTES" "$WORK/posted" &
LOAD=$!
PIDS[load]=$LOAD
ms () { echo $(( $(date +%s%N) / 1000000 )); }

#  One line of the table.
sample () {
    local line posted
    posted=$(awk '{print $1}' "$WORK/posted" 2>/dev/null || echo 0)
    line="| $1 | ${posted:-0} | $2 |"
    for p in "${SHOWN[@]}"; do line="$line $(bench_proc_sample "$p") |"; done
    echo "$line"
}
head="| minute | events posted | killed since last line |"
rule="|---:|---:|---|"
for p in "${SHOWN[@]}"; do head="$head $p |"; rule="$rule---:|"; done
echo "$head"
echo "$rule"
sample 0 ""
started=$(date +%s)
end=$(( started + MINUTES * 60 ))
next_sample=$(( started + INTERVAL ))
next_kill=$(( started + KILL_EVERY ))
k=0 kills="" worst_ready=0 worst_status=0 failures=0
while [ "$(date +%s)" -lt "$end" ]; do
    now=$(date +%s)
    if [ "$now" -ge "$next_kill" ]; then
        name=${KILLED[$((k % ${#KILLED[@]}))]}
        k=$((k + 1))
        t0=$(ms)
        bench_proc_kill "$name"
        bench_proc_start "$name"
        t1=$(ms)
        if "$BIN/warmupctl" -c "$WORK/warmup.cfg" status --require all --timeout 10 \
                >/dev/null 2>&1; then
            t2=$(ms)
            status_ms=$((t2 - t1))
        else
            status_ms=-1
            failures=$((failures + 1))
        fi
        ready_ms=$((t1 - t0))
        [ "$ready_ms" -gt "$worst_ready" ] && worst_ready=$ready_ms
        [ "$status_ms" -gt "$worst_status" ] && worst_status=$status_ms
        printf "soak: %5.1f min: killed %-9s ready %5d ms after the kill, all in status %5d ms later\n" \
            "$(echo "($(date +%s) - $started) / 60" | bc -l)" "$name" "$ready_ms" "$status_ms" >&2
        kills="$kills${kills:+ }$name"
        next_kill=$(( next_kill + KILL_EVERY ))
    fi
    if [ "$now" -ge "$next_sample" ]; then
        sample "$(printf '%.1f' "$(echo "($now - $started) / 60" | bc -l)")" "$kills"
        kills=""
        next_sample=$(( next_sample + INTERVAL ))
    fi
    sleep 1
done
wait "$LOAD" || true
unset 'PIDS[load]'
sample "$(printf '%.1f' "$(echo "($(date +%s) - $started) / 60" | bc -l)")" "$kills"
read -r posted refused < "$WORK/posted"
gaps=$(curl -s "http://127.0.0.1:$METRICS/metrics" \
       | awk '/^warmup_component_dropped_total/ {s += $2} END {print s + 0}')
echo "soak: $MINUTES min, x$SPEED, $k kills (worst: ready $worst_ready ms after the kill," \
     "all in status $worst_status ms later, $failures not all back in 10 s);" \
     "$posted events posted, $refused refused; dropped (sequence gaps, live processes)" \
     "$gaps; $(nproc) CPUs" >&2
