#!/usr/bin/env bash
#  test_libwarmup - `cmake --install --component libwarmup` installs the
#  client library (shared and static), its one header and warmup.pc; the
#  header needs no header of ZeroMQ, czmq or protobuf-c; examples/
#  ide_client.c builds against the installed tree through pkg-config,
#  linked shared and static, and each build does its whole job against a
#  running warmupd: an intent and a usage event on the bus, the engine's
#  prediction received, predict-and-warm over HTTP listing the model.
#  Usage (ctest): test_libwarmup.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS]
#    (EXTRA_CFLAGS: the sanitizer flags of an ASan build, which the
#    library needs at link time)
set -euo pipefail
BUILD=$1 SOURCE=$2 EXTRA=${3:-}
SCALE=${WP_TEST_TIME_SCALE:-1}
CC=${CC:-cc}
DEST=$(mktemp -d "${TMPDIR:-/tmp}/wp-libwarmup-XXXXXX")
DAEMON=
cleanup () {
    if [ -n "$DAEMON" ]; then kill -KILL "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null || true; fi
    rm -rf "$DEST"
}
trap cleanup EXIT
fail () { echo "test_libwarmup: FAILED: $*" >&2; exit 1; }

#  1. What the component installs, under a prefix chosen at install time.
PREFIX="$DEST/prefix"
cmake --install "$BUILD" --component libwarmup --prefix "$PREFIX" > "$DEST/install.log" \
    || { cat "$DEST/install.log"; fail "cmake --install --component libwarmup"; }
PC=$(find "$PREFIX" -name warmup.pc)
[ -n "$PC" ] || fail "no warmup.pc installed"
LIBDIR=$(dirname "$(dirname "$PC")")
for f in "$PREFIX/include/warmup/warmup.h" "$LIBDIR/libwarmup.a" "$LIBDIR/libwarmup.so"; do
    [ -e "$f" ] || fail "${f#"$PREFIX"/} not installed"
done
[ "$(find "$PREFIX" -type f -o -type l | wc -l)" -le 6 ] \
    || fail "the component installs more than the library, its header and warmup.pc"
export PKG_CONFIG_PATH="$(dirname "$PC")"
[ "$(pkg-config --modversion warmup)" = "$(sed -n 's/^project(warmup VERSION \([0-9.]*\).*/\1/p' \
    "$SOURCE/CMakeLists.txt")" ] || fail "warmup.pc's version is not the project's"
INCLUDE=$(pkg-config --variable=includedir warmup)
[ "$(realpath "$INCLUDE")" = "$(realpath "$PREFIX/include")" ] \
    || fail "warmup.pc's includedir $INCLUDE is not the installed tree's"

#  2. The public header stands alone: C99 and C++, no ZeroMQ, czmq or
#  protobuf-c header pulled in, no warning.
HDR_TEST="$DEST/hdr.c"
printf '#include <warmup/warmup.h>\nint main (void) { return warmup_version () > 0 ? 0 : 1; }\n' \
    > "$HDR_TEST"
$CC -std=c99 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags warmup) -M "$HDR_TEST" \
    > "$DEST/deps" || fail "warmup.h does not compile as C99"
if grep -Eq "czmq|zmq|protobuf|zsock|sodium|curl" "$DEST/deps"; then
    fail "warmup.h pulls in a dependency's header: $(grep -Eo '[^ ]*(czmq|zmq|protobuf|sodium|curl)[^ ]*' "$DEST/deps" | head -3)"
fi
if command -v c++ >/dev/null; then
    cp "$HDR_TEST" "$DEST/hdr.cpp"
    c++ -Wall -Wextra -Werror $(pkg-config --cflags warmup) -fsyntax-only "$DEST/hdr.cpp" \
        || fail "warmup.h does not compile as C++"
fi

#  3. The example, built against the installed tree, shared then static.
EXAMPLE="$SOURCE/examples/ide_client.c"
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $EXTRA "$EXAMPLE" -o "$DEST/ide_client" \
    $(pkg-config --cflags --libs warmup) || fail "the example does not build (shared)"
STATIC_LIBS=$(pkg-config --static --libs warmup | sed 's/-lwarmup\b/-l:libwarmup.a/')
# shellcheck disable=SC2086
$CC -std=c11 -Wall -Wextra -Werror $EXTRA "$EXAMPLE" -o "$DEST/ide_client_static" \
    $(pkg-config --cflags warmup) $STATIC_LIBS || fail "the example does not build (static)"
ldd "$DEST/ide_client_static" | grep -q libwarmup && fail "the static build needs libwarmup.so"
LD_LIBRARY_PATH="$LIBDIR" ldd "$DEST/ide_client" | grep -q "libwarmup.so.0 => $LIBDIR" \
    || fail "the shared build does not load the installed libwarmup.so.0"

#  4. Each runs its whole job against warmupd (ipc:// endpoints: files of
#  mode 0600, no CURVE; the proxy's HTTP listener on a free port).
cat > "$DEST/warmup.cfg" <<EOF
metrics_listen = off
bus
    pub_endpoint = "ipc://$DEST/pub"
    sub_endpoint = "ipc://$DEST/sub"
store
    data_dir = "$DEST/var"
EOF
"$BUILD/bin/warmupd" -c "$DEST/warmup.cfg" --proxy-listen 127.0.0.1:0 > "$DEST/warmupd.log" 2>&1 &
DAEMON=$!
URL=
for _ in $(seq 1 $((200 * SCALE))); do
    URL=$(grep -o "proxy: serving http://[0-9.:]*" "$DEST/warmupd.log" | sed 's/proxy: serving //' || true)
    [ -n "$URL" ] && break
    kill -0 "$DAEMON" 2>/dev/null || break
    sleep 0.1
done
[ -n "$URL" ] || { cat "$DEST/warmupd.log" >&2; fail "warmupd's proxy did not listen"; }
"$BUILD/bin/warmupctl" -c "$DEST/warmup.cfg" status --require all --timeout $((30 * SCALE)) \
    > "$DEST/status.log" 2>&1 || { cat "$DEST/status.log" "$DEST/warmupd.log" >&2; fail "warmupd not healthy"; }
n=0
for program in ide_client ide_client_static; do
    n=$((n + 1))
    out="$DEST/$program.out"
    LD_LIBRARY_PATH="$LIBDIR" "$DEST/$program" --http "$URL" \
        --bus "ipc://$DEST/pub" "ipc://$DEST/sub" --user "user-$n" --model "model-$n" \
        > "$out" 2>&1 || { cat "$out" >&2; fail "$program did not do its job"; }
    grep -q "^prediction for .*: model-$n p=" "$out" || { cat "$out" >&2; fail "$program: no prediction event"; }
    grep -Eq "^  model-$n +p=" "$out" || { cat "$out" >&2; fail "$program: predict did not list model-$n"; }
    echo "test_libwarmup: $program: ok"
    cat "$out"
done
kill -TERM "$DAEMON"
wait "$DAEMON" || fail "warmupd: SIGTERM gave exit $?"
DAEMON=
echo "test_libwarmup: ok"
