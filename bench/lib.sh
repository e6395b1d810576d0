#  lib.sh - what the bench scripts share, sourced after `cd` to the
#  repository: a work directory ($WORK) removed at exit, and a warmupd
#  ($BIN/warmupd) started in it, waited for, and stopped at exit.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/warmup-bench-XXXXXX")
DAEMON=
bench_cleanup () {
    [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
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
