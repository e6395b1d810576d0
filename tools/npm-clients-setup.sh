#!/usr/bin/env bash
#  npm-clients-setup.sh - install the official `openai` and `ollama` npm
#  client libraries (the versions tests/slow/clients/package-lock.json pins)
#  into a cache OUTSIDE the repository, for test_proxy_clients (label slow).
#  node_modules is never committed.
#
#  Where: ${WARMUP_CLIENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warmup-clients}
#    node_modules/       what `npm ci` installed
#    READY               the lock file's checksum, written last
#  Needs: Node.js and npm (Debian's nodejs/npm if missing) and the npm
#  registry. Safe to run again: nothing is done while READY matches the lock.
#  Usage: tools/npm-clients-setup.sh [--print-dir]
set -euo pipefail
SOURCE_DIR="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${WARMUP_CLIENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/warmup-clients}"
LOCK="$SOURCE_DIR/tests/slow/clients/package-lock.json"
if [ "${1:-}" = "--print-dir" ]; then
    echo "$CACHE"
    exit 0
fi
say () { echo "npm-clients-setup: $*" >&2; }
sum="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ -f "$CACHE/READY" ] && [ "$(cat "$CACHE/READY")" = "$sum" ]; then
    say "ready in $CACHE"
    exit 0
fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    say "installing nodejs and npm"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
mkdir -p "$CACHE"
rm -f "$CACHE/READY"
cp "$SOURCE_DIR/tests/slow/clients/package.json" "$LOCK" "$CACHE/"
say "npm ci (openai, ollama) into $CACHE"
(cd "$CACHE" && npm ci --no-audit --no-fund --silent)
echo "$sum" >"$CACHE/READY"
say "ready in $CACHE (node $(node --version))"
