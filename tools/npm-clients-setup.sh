#!/usr/bin/env bash
#  npm-clients-setup.sh - install pinned npm packages the tests drive into
#  caches OUTSIDE the repository (node_modules is never committed):
#    clients  the official `openai` and `ollama` client libraries, for
#             test_proxy_clients (tests/slow/clients/package-lock.json);
#    node     `zeromq` and `protobufjs` (the optional peers of the Node.js
#             client's bus module) and `typescript` (its types compiled),
#             for test_node_client (clients/node/test/deps/package-lock.json).
#
#  Where: ${WARMUP_CLIENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warmup-clients}
#         ${WARMUP_NODE_DEPS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warmup-node-deps}
#    node_modules/       what `npm ci` installed
#    READY               the lock file's checksum, written last
#  Needs: Node.js and npm (Debian's nodejs/npm if missing) and the npm
#  registry. Safe to run again: nothing is done while READY matches the lock.
#  Usage: tools/npm-clients-setup.sh [--print-dir [clients|node]]
set -euo pipefail
SOURCE_DIR="$(cd "$(dirname "$0")/.." && pwd)"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}"
CLIENTS="${WARMUP_CLIENTS_DIR:-$CACHE_ROOT/warmup-clients}"
NODE_DEPS="${WARMUP_NODE_DEPS_DIR:-$CACHE_ROOT/warmup-node-deps}"
if [ "${1:-}" = "--print-dir" ]; then
    if [ "${2:-clients}" = node ]; then echo "$NODE_DEPS"; else echo "$CLIENTS"; fi
    exit 0
fi
say () { echo "npm-clients-setup: $*" >&2; }
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    say "installing nodejs and npm"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

#  install CACHE DIR_OF_PACKAGE_JSON WHAT: npm ci of that lock into CACHE.
install () {
    local cache=$1 from=$2 what=$3
    local sum
    sum="$(sha256sum "$from/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$cache/READY" ] && [ "$(cat "$cache/READY")" = "$sum" ]; then
        say "$what: ready in $cache"
        return
    fi
    mkdir -p "$cache"
    rm -f "$cache/READY"
    cp "$from/package.json" "$from/package-lock.json" "$cache/"
    say "npm ci ($what) into $cache"
    (cd "$cache" && npm ci --no-audit --no-fund --silent)
    echo "$sum" >"$cache/READY"
    say "$what: ready in $cache (node $(node --version))"
}
install "$CLIENTS" "$SOURCE_DIR/tests/slow/clients" "openai, ollama"
install "$NODE_DEPS" "$SOURCE_DIR/clients/node/test/deps" "zeromq, protobufjs, typescript"
