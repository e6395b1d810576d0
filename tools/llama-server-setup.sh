#!/usr/bin/env bash
#  llama-server-setup.sh - build llama.cpp's llama-server and write two
#  small GGUF model files, once, into a cache OUTSIDE the repository, for
#  the end-to-end test of the llama-server backend (test_llama_e2e, label
#  slow) and for docs/backends.md's measurement.
#
#  Where: ${WARMUP_LLAMA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warmup-llama}
#    bin/llama-server          the server (router mode: --models-dir)
#    models/tiny-a.gguf        RANDOM WEIGHTS: a real GGUF file of a real
#    models/tiny-b.gguf        llama architecture and size, that answers
#                              gibberish. Never a real model.
#    READY                     written last: the cache is complete
#
#  How: `npm pack node-llama-cpp@3.21.1` (the npm package ships llama.cpp's
#  source as llama/gitRelease.bundle, a git bundle), `git clone` of that
#  bundle, CMake of the llama-server target only (about 4-7 minutes on 2
#  cores), gguf-py from the same source with Debian's python3-numpy.
#  Needs: the npm registry and Debian's packages; nothing else.
#
#  Usage: tools/llama-server-setup.sh [--print-dir]
#  Safe to run again: each step is skipped when its result is there.
set -euo pipefail
SOURCE_DIR="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${WARMUP_LLAMA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warmup-llama}"
VERSION=3.21.1

if [ "${1:-}" = "--print-dir" ]; then
    echo "$CACHE"
    exit 0
fi
if [ -f "$CACHE/READY" ]; then
    echo "llama-server-setup: ready in $CACHE" >&2
    exit 0
fi
mkdir -p "$CACHE"
cd "$CACHE"
say () { echo "llama-server-setup: $*" >&2; }

#  Debian packages: the compilers and CMake come from tools/setup.sh;
#  here git, npm (Node.js ships with the machine) and numpy for gguf-py.
PACKAGES=(git python3 python3-numpy build-essential cmake)
command -v npm >/dev/null || PACKAGES+=(npm)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

#  1. The npm package and the git bundle inside it.
if [ ! -f "node-llama-cpp-$VERSION.tgz" ]; then
    say "npm pack node-llama-cpp@$VERSION"
    npm pack --silent "node-llama-cpp@$VERSION" >/dev/null
fi
if [ ! -f package/llama/gitRelease.bundle ]; then
    tar xzf "node-llama-cpp-$VERSION.tgz" package/llama/gitRelease.bundle \
        package/llama/binariesGithubRelease.json
fi

#  2. The source, cloned from the bundle.
if [ ! -f src/CMakeLists.txt ]; then
    rm -rf src
    say "git clone of the bundle ($(cat package/llama/binariesGithubRelease.json | tr -d ' \n'))"
    git clone -q package/llama/gitRelease.bundle src
fi

#  3. llama-server only, portable (no -march=native), no OpenSSL.
if [ ! -x build/bin/llama-server ]; then
    say "building llama-server (several minutes on 2 cores)"
    start=$(date +%s)
    cmake -S src -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
        -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >build.log 2>&1 \
        || { tail -30 build.log >&2; exit 1; }
    cmake --build build --target llama-server -j "$(nproc)" >>build.log 2>&1 \
        || { tail -30 build.log >&2; exit 1; }
    say "built in $(( $(date +%s) - start )) s"
fi
mkdir -p bin
ln -sf ../build/bin/llama-server bin/llama-server

#  4. Two model files with random weights (see make-test-gguf.py).
mkdir -p models
for spec in "tiny-a 1" "tiny-b 2"; do
    set -- $spec
    if [ ! -f "models/$1.gguf" ]; then
        say "writing models/$1.gguf (random weights)"
        PYTHONPATH="$CACHE/src/gguf-py" /usr/bin/python3 \
            "$SOURCE_DIR/tools/make-test-gguf.py" "models/$1.gguf.tmp" "$2"
        mv "models/$1.gguf.tmp" "models/$1.gguf"
    fi
done

"$CACHE/bin/llama-server" --version >/dev/null 2>&1 \
    || { say "bin/llama-server does not run"; exit 1; }
date -u +%FT%TZ >READY
say "ready in $CACHE"
