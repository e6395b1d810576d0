#!/usr/bin/env bash
#  test_node_client - the Node.js client (clients/node): `npm pack` builds
#  its package (the modules, their TypeScript types, the schema), the
#  tarball installs and imports, and its tests (`node --test`, run on the
#  installed package) pass against a running warmupd: HTTP, and the bus
#  through zeromq and protobufjs where tools/npm-clients-setup.sh put them
#  (else the bus tests say they are skipped). Without Node.js (18 or
#  later) and npm the whole test is reported skipped (exit 77); CI
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

#  1. The package builds (from a copy: prepack copies the schema in), with
#  what a user imports and nothing else.
mkdir -p "$DEST/src/clients" "$DEST/src/schemas"
cp -r "$SOURCE/clients/node" "$DEST/src/clients/node"
rm -rf "$DEST/src/clients/node/node_modules" "$DEST/src/clients/node/warmup.proto"
cp "$SOURCE/schemas/warmup.proto" "$DEST/src/schemas/"
(cd "$DEST/src/clients/node" && npm pack --silent --pack-destination "$DEST" > "$DEST/pack.log") \
    || { cat "$DEST/pack.log" >&2; fail "npm pack"; }
TARBALL=$(ls "$DEST"/warmup-client-*.tgz)
tar -tzf "$TARBALL" | sort > "$DEST/files"
printf 'package/%s\n' README.md bus.d.ts bus.js index.d.ts index.js package.json warmup.proto \
    | cmp -s - "$DEST/files" || { cat "$DEST/files" >&2; fail "the package's files"; }
tar -xzOf "$TARBALL" package/warmup.proto | cmp -s - "$SOURCE/schemas/warmup.proto" \
    || fail "the package's warmup.proto is not schemas/warmup.proto"

#  2. The package as installed imports.
mkdir -p "$DEST/app"
(cd "$DEST/app" && npm init -y > /dev/null && npm install --silent --no-audit --no-fund \
    --offline "$TARBALL" > "$DEST/install.log" 2>&1) \
    || { cat "$DEST/install.log" >&2; fail "npm install of the package"; }
(cd "$DEST/app" && node --input-type=module \
    -e "import { WarmupClient } from 'warmup-client'; new WarmupClient({ url: 'http://127.0.0.1:1' });") \
    || fail "the installed package does not import"
#  The test dependencies where the setup script installed them (symlinked:
#  they resolve their own dependencies from there).
DEPS=$(bash "$SOURCE/tools/npm-clients-setup.sh" --print-dir node)/node_modules
if [ -d "$DEPS/zeromq" ] && [ -d "$DEPS/protobufjs" ]; then
    ln -s "$DEPS/zeromq" "$DEPS/protobufjs" "$DEST/app/node_modules/"
else
    echo "test_node_client: the bus tests will be SKIPPED: no zeromq and protobufjs in" \
         "$DEPS (run tools/npm-clients-setup.sh)"
fi

#  3. The types, as a TypeScript user compiles against the installed
#  package (its exports map): what is right checks, what is marked wrong
#  is caught.
if [ -x "$DEPS/typescript/bin/tsc" ]; then
    cp "$SOURCE/clients/node/test/types.mts" "$DEST/app/"
    (cd "$DEST/app" && node "$DEPS/typescript/bin/tsc" --noEmit --strict --module nodenext \
        --moduleResolution nodenext --target es2022 --lib es2022 types.mts) \
        || fail "the TypeScript types (tsc --strict on clients/node/test/types.mts)"
    echo "test_node_client: types.mts compiles with tsc $(node "$DEPS/typescript/bin/tsc" --version)"
else
    echo "test_node_client: the TypeScript check SKIPPED: no typescript in $DEPS" \
         "(run tools/npm-clients-setup.sh)"
fi

#  4. The tests, on the installed package, against warmupd.
mkdir -p "$DEST/app/test"
for f in "$SOURCE"/clients/node/test/*.test.js; do    #  ES modules in a CommonJS app
    cp "$f" "$DEST/app/test/$(basename "$f" .js).mjs"
done
wp_warmupd_start "$BUILD" "$DEST"
(cd "$DEST/app" && WARMUP_URL=$WP_URL WARMUP_BUS_PUB=$WP_PUB WARMUP_BUS_SUB=$WP_SUB \
    WARMUP_CTL="$BUILD/bin/warmupctl -c $DEST/warmup.cfg" WARMUP_BIN_DIR="$BUILD/bin" \
    node --test test/) || fail "node --test"
wp_warmupd_stop
echo "test_node_client: ok"
