#  lib.sh - what the bench scripts share, sourced after `cd` to the
#  repository: a work directory ($WORK) removed at exit; a warmupd
#  ($BIN/warmupd) started in it, waited for, and stopped at exit; or the
#  per-process deployment: one $BIN/warmup-<name> per program, each
#  started, waited for, killed and restarted by name, all stopped at exit.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/warmup-bench-XXXXXX")
DAEMON=
declare -A PIDS=()
bench_cleanup () {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    for name in "${!PIDS[@]}"; do
        kill "${PIDS[$name]}" 2>/dev/null && wait "${PIDS[$name]}" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

#  Start $BIN/warmupd with these arguments (log: $WORK/warmupd.log) and
#  wait for its ready line; exit with its log if it dies first.
bench_start () {
    "$BIN/warmupd" "$@" > "$WORK/warmupd.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 1 300); do
        grep -q ready "$WORK/warmupd.log" 2>/dev/null && return 0
        kill -0 "$DAEMON" 2>/dev/null || { cat "$WORK/warmupd.log" >&2; exit 1; }
        sleep 0.1
    done
}

#  Stop the warmupd bench_start started.
bench_stop () {
    kill "$DAEMON" && wait "$DAEMON" 2>/dev/null || true
    DAEMON=
}

#  Start $BIN/warmup-NAME -c $WORK/warmup.cfg with the further arguments
#  (log appended to $WORK/NAME.log), its pid in PIDS[NAME], and wait for
#  its new ready line (30 s at most); exit with its log if it dies first.
bench_proc_start () {
    local name=$1 before
    shift
    before=$(grep -c ready "$WORK/$name.log" 2>/dev/null || true)
    "$BIN/warmup-$name" -c "$WORK/warmup.cfg" "$@" >> "$WORK/$name.log" 2>&1 &
    PIDS[$name]=$!
    for _ in $(seq 1 300); do
        [ "$(grep -c ready "$WORK/$name.log")" -gt "${before:-0}" ] && return 0
        kill -0 "${PIDS[$name]}" 2>/dev/null || { tail -20 "$WORK/$name.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "bench: warmup-$name not ready in 30 s" >&2
    exit 1
}

#  kill -9 the program NAME and reap it.
bench_proc_kill () {
    kill -9 "${PIDS[$1]}" 2>/dev/null || true
    wait "${PIDS[$1]}" 2>/dev/null || true
}

#  "RSS_MiB/descriptors" of the program NAME now.
bench_proc_sample () {
    local pid=${PIDS[$1]} rss fds
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    printf "%.1f/%s" "$(echo "${rss:-0} / 1024" | bc -l)" "$fds"
}
