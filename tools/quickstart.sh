#!/usr/bin/env bash
#  quickstart.sh - set up, start warmupd on its embedded defaults, play a
#  short IDE session through the bus and show what every component did.
#
#  The session: alice's autocomplete model answers every 10 s, she opens a
#  chat twice; bob's editor embeds files every 20 s. warmupd learns both
#  patterns, predicts, warms what is likely (sim backend: a labelled
#  simulation of each model's load time) and the stream shows each step.
#  Usage: tools/quickstart.sh   (uses a temporary data directory and the
#  default endpoints tcp://127.0.0.1:5701 / :5702)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
BIN=build/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/warmup-quickstart-XXXXXX")
cleanup () {
    [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    [ -n "${TAIL:-}" ] && kill "$TAIL" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting warmupd (all seven components, data in $WORK/var)"
$BIN/warmupd --data-dir "$WORK/var" > "$WORK/warmupd.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 100); do
    grep -q ready "$WORK/warmupd.log" 2>/dev/null && break
    if ! kill -0 "$DAEMON" 2>/dev/null; then cat "$WORK/warmupd.log"; exit 1; fi
    sleep 0.1
done
grep ready "$WORK/warmupd.log"

$BIN/warmupctl tail --text --timeout 6 > "$WORK/stream.txt" 2> "$WORK/tail.log" &
TAIL=$!
for _ in $(seq 1 100); do grep -q "tail ready" "$WORK/tail.log" && break; sleep 0.1; done

echo "== an IDE session: usage events through warmupctl emit"
now=$(($(date +%s) * 1000))
for i in 5 4 3 2 1 0; do
    $BIN/warmupctl emit --user alice --model qwen-coder-1.5b --task completion \
        --language c --at $((now - i * 10000))
done
$BIN/warmupctl emit --user alice --model llama3-8b-chat --task chat --at $((now - 40000))
$BIN/warmupctl emit --user alice --model llama3-8b-chat --task chat --at $((now - 5000))
for i in 3 2 1 0; do
    $BIN/warmupctl emit --user bob --model nomic-embed --task embedding --at $((now - i * 20000))
done
wait "$TAIL" || true
TAIL=

echo "== what the components did (heartbeats and resource status left out)"
grep -v -e '^heartbeat' -e '^resource.status' -e '^metrics.snapshot' "$WORK/stream.txt" || true
echo "== the latest metrics snapshot"
grep '^metrics.snapshot' "$WORK/stream.txt" | tail -1 || true
echo "== the EVAL.md metrics (warmupctl metrics; the dashboard was at http://127.0.0.1:9464/)"
$BIN/warmupctl metrics --timeout 3 || true
echo "== live components"
$BIN/warmupctl status --timeout 1.5
