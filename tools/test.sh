#!/usr/bin/env bash
#  test.sh - set up (packages, build) and run every test with ctest, then
#  the whole suite again built with AddressSanitizer and UBSan (a leak, an
#  invalid access or undefined behaviour fails it). The slow tests drive a
#  real Prometheus and a headless Chromium: --test installs them. Both
#  builds treat warnings as errors (--werror). Then, when run without
#  arguments, every fuzz target for WARMUP_FUZZ_SECONDS (30) under
#  ASan/UBSan (tools/fuzz.sh; a crash fails it).
#  Usage: tools/test.sh [ctest arguments], e.g. tools/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --test --fuzz --werror
(cd build && ctest --output-on-failure -j 2 "$@")
tools/setup.sh --sanitize --werror
(cd build-asan && ctest --output-on-failure -j 2 "$@")
if [ $# -eq 0 ]; then
    tools/fuzz.sh
fi
