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
CC=${CC:-cc}
DEST=$(mktemp -d "${TMPDIR:-/tmp}/wp-libwarmup-XXXXXX")
# shellcheck source=tests/deploy/warmupd.sh
. "$(dirname "$0")/warmupd.sh"
cleanup () {
    wp_warmupd_kill
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
#  (ldd's output kept first: grep -q leaving early would SIGPIPE it)
ldd "$DEST/ide_client_static" > "$DEST/ldd-static"
LD_LIBRARY_PATH="$LIBDIR" ldd "$DEST/ide_client" > "$DEST/ldd-shared"
grep -q libwarmup "$DEST/ldd-static" && fail "the static build needs libwarmup.so"
grep -q "libwarmup.so.0 => $LIBDIR" "$DEST/ldd-shared" \
    || { cat "$DEST/ldd-shared" >&2; fail "the shared build does not load the installed libwarmup.so.0"; }

#  4. Each runs its whole job against warmupd.
wp_warmupd_start "$BUILD" "$DEST"
n=0
for program in ide_client ide_client_static; do
    n=$((n + 1))
    out="$DEST/$program.out"
    LD_LIBRARY_PATH="$LIBDIR" "$DEST/$program" --http "$WP_URL" \
        --bus "$WP_PUB" "$WP_SUB" --user "user-$n" --model "model-$n" \
        > "$out" 2>&1 || { cat "$out" >&2; fail "$program did not do its job"; }
    grep -q "^prediction for .*: model-$n p=" "$out" || { cat "$out" >&2; fail "$program: no prediction event"; }
    grep -Eq "^  model-$n +p=" "$out" || { cat "$out" >&2; fail "$program: predict did not list model-$n"; }
    echo "test_libwarmup: $program: ok"
    cat "$out"
done
wp_warmupd_stop
echo "test_libwarmup: ok"
