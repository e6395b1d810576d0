#!/usr/bin/env bash
#  test_node_client - the Node.js client (clients/node): `npm pack` builds
#  its package with the module and its TypeScript types, and its tests
#  (`node --test`) pass against a running warmupd. Without Node.js (18 or
#  later) and npm it says so and is reported skipped (exit 77); CI
#  installs them (.ci/run, tools/npm-clients-setup.sh).
#  Usage (ctest): test_node_client.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1 SOURCE=$2
DEST=$(mktemp -d "${TMPDIR:-/tmp}/wp-node-XXXXXX")
fail () { echo "test_node_client: FAILED: $*" >&2; exit 1; }
# shellcheck source=tests/deploy/warmupd.sh
. "$(dirname "$0")/warmupd.sh"
cleanup () {
    wp_warmupd_kill
    rm -rf "$DEST"
}
trap cleanup EXIT
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 18 ] || ! command -v npm >/dev/null; then
    echo "test_node_client: SKIPPED: Node.js 18 or later and npm are needed (node: $major)"
    exit 77
fi

#  1. The package builds, with what a user imports and nothing else.
(cd "$SOURCE/clients/node" && npm pack --silent --pack-destination "$DEST" > "$DEST/pack.log") \
    || { cat "$DEST/pack.log" >&2; fail "npm pack"; }
TARBALL=$(ls "$DEST"/warmup-client-*.tgz)
tar -tzf "$TARBALL" | sort > "$DEST/files"
printf 'package/README.md\npackage/index.d.ts\npackage/index.js\npackage/package.json\n' \
    | cmp -s - "$DEST/files" || { cat "$DEST/files" >&2; fail "the package's files"; }

#  2. The package as installed imports, then the tests against warmupd.
mkdir -p "$DEST/app"
(cd "$DEST/app" && npm init -y > /dev/null && npm install --silent --no-audit --no-fund \
    --offline "$TARBALL" > "$DEST/install.log" 2>&1) \
    || { cat "$DEST/install.log" >&2; fail "npm install of the package"; }
(cd "$DEST/app" && node --input-type=module \
    -e "import { WarmupClient } from 'warmup-client'; new WarmupClient({ url: 'http://127.0.0.1:1' });") \
    || fail "the installed package does not import"
wp_warmupd_start "$BUILD" "$DEST"
WARMUP_URL=$WP_URL node --test "$SOURCE/clients/node/test/" || fail "node --test"
wp_warmupd_stop
echo "test_node_client: ok"
