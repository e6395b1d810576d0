#!/usr/bin/env bash
#  fuzz.sh - build the libFuzzer targets (tests/fuzz) with clang, ASan and
#  UBSan into ./build-fuzz, and run each for a bounded time on a copy of
#  its seed corpus (tests/fuzz/corpus/<target>/). A crash, a leak, an
#  assertion or undefined behaviour fails it (exit 1), the input kept in
#  build-fuzz/findings/. Prints executions and coverage per target.
#  Usage: tools/fuzz.sh [SECONDS_EACH] [TARGET...]    (default 30 s, all)
#  WARMUP_FUZZ_SECONDS sets the default time.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-${WARMUP_FUZZ_SECONDS:-30}}
shift || true
case "$SECONDS_EACH" in
    ''|*[!0-9]*) echo "fuzz: seconds must be a whole number, not '$SECONDS_EACH'" >&2; exit 2 ;;
esac
if ! command -v clang >/dev/null; then
    echo "fuzz: clang is missing (tools/setup.sh --fuzz installs it)" >&2
    exit 2
fi
BUILD=build-fuzz
CC=clang cmake -S . -B "$BUILD" -DWP_FUZZ=ON -DWP_SANITIZE=ON -DWARMUP_WERROR=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target fuzz_all -j "$(nproc)" >/dev/null
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    for t in "$BUILD"/fuzz/fuzz_*; do TARGETS+=("$(basename "$t")"); done
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/warmup-fuzz-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$BUILD/findings"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=0
printf "%-22s %10s %8s %8s %6s %s\n" target executions exec/s cov ft result
for name in "${TARGETS[@]}"; do
    bin="$BUILD/fuzz/$name"
    [ -x "$bin" ] || { echo "fuzz: no target $name" >&2; exit 2; }
    corpus="$WORK/$name"
    mkdir -p "$corpus" "$WORK/tmp-$name"
    cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    log="$BUILD/findings/$name.log"
    rc=0
    TMPDIR="$WORK/tmp-$name" "$bin" -max_total_time="$SECONDS_EACH" -timeout=20 \
        -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$BUILD/findings/$name-" "$corpus" >"$log" 2>&1 || rc=$?
    done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1 || true)
    runs=$(grep -oE "stat::number_of_executed_units: [0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
    rate=$(echo "$done_line" | grep -oE "exec/s: [0-9]+" | grep -oE "[0-9]+" || echo -)
    cov=$(echo "$done_line" | grep -oE "cov: [0-9]+" | grep -oE "[0-9]+" || echo -)
    ft=$(echo "$done_line" | grep -oE "ft: [0-9]+" | grep -oE "[0-9]+" || echo -)
    if [ $rc -ne 0 ]; then
        result="FAILED (see $log)"
        failed=1
        grep -E "ERROR|SUMMARY|Assertion|runtime error" "$log" | head -5 >&2 || true
    else
        result=ok
    fi
    printf "%-22s %10s %8s %8s %6s %s\n" "$name" "$runs" "$rate" "$cov" "$ft" "$result"
done
exit $failed
