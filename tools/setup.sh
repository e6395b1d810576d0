#!/usr/bin/env bash
#  setup.sh - install the Debian packages warmup needs (only those missing)
#  and build it into ./build. Safe to run again: does nothing that is done.
#  Usage: tools/setup.sh [--sanitize] [--test] [--fuzz] [--werror]
#    --sanitize  build into ./build-asan with AddressSanitizer and UBSan
#    --test      also install what the slow tests drive: prometheus
#                (promtool, a real server) and chromium (headless browser);
#                and docker-compose (the compose file's check: no engine)
#    --fuzz      also install clang and its libFuzzer runtime (tools/fuzz.sh)
#    --werror    warnings are errors (-DWARMUP_WERROR=ON: tools/test.sh, CI)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libzmq3-dev libczmq-dev
          libprotobuf-c-dev protobuf-c-compiler liblmdb-dev libcmocka-dev
          zlib1g-dev libcurl4-openssl-dev libmicrohttpd-dev
          libsodium-dev)
TEST_PACKAGES=(prometheus chromium docker-compose)
FUZZ_PACKAGES=(clang libclang-rt-dev)
SANITIZE=
WERROR=()
for arg in "$@"; do
    case "$arg" in
        --sanitize) SANITIZE=1 ;;
        --test) PACKAGES+=("${TEST_PACKAGES[@]}") ;;
        --fuzz) PACKAGES+=("${FUZZ_PACKAGES[@]}") ;;
        --werror) WERROR=(-DWARMUP_WERROR=ON) ;;
        *) echo "setup: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD=build
EXTRA=()
if [ -n "$SANITIZE" ]; then
    BUILD=build-asan
    EXTRA=(-DWP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
cmake -S . -B "$BUILD" "${EXTRA[@]}" "${WERROR[@]}" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
echo "setup: built into $BUILD/" >&2
