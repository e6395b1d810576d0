#!/usr/bin/env bash
#  test.sh - set up (packages, build) and run every test with ctest.
#  Usage: tools/test.sh [ctest arguments], e.g. tools/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cd build
ctest --output-on-failure -j 2 "$@"
