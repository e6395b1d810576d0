#!/usr/bin/env bash
#  test_compose - compose/compose.yaml and compose/Dockerfile checked
#  without a container engine:
#   1. `docker-compose config` accepts compose.yaml (Debian's docker-compose);
#   2. it has the bus and one service per component (the names the programs
#      know), each with its own data volume at the configured data_dir, the
#      shared configuration read-only, a restart policy and a health check
#      `warmupctl status --require <its name>`, and compose/deploy.cfg loads;
#   3. the Dockerfile's build stage installs tools/setup.sh's packages (no
#      cmocka: no tests in the image), its runtime stage the packages that
#      provide every library the installed programs link, no -dev package,
#      and runs as a non-root user;
#   4. (with --build) the build stage's commands on a context of exactly
#      its COPY lines build and install every program;
#   5. (with --rootfs; root, debootstrap and a Debian mirror, about two
#      minutes: not in CI) the runtime stage without an engine: a Debian 12
#      minbase root made by debootstrap, the stage's RUN in it, what step 4
#      installed copied in (its COPY --from=build), then the image's CMD run
#      as its USER until its HEALTHCHECK command passes.
#  Usage (ctest): test_compose.sh BIN_DIR [--build | --rootfs]
set -euo pipefail
BIN_DIR=$(cd "$1" && pwd)
BUILD_TOO=${2:-}
ROOTFS=
if [ "$BUILD_TOO" = --rootfs ]; then BUILD_TOO=--build; ROOTFS=1; fi
cd "$(dirname "$0")/../.."
fail () { echo "test_compose: FAILED: $*" >&2; exit 1; }
command -v docker-compose >/dev/null \
    || fail "docker-compose is not installed (tools/setup.sh --test installs it)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wp-compose-XXXXXX")
DAEMON=
NETNS=
cleanup () {
    [ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null
    if mountpoint -q "$WORK/rootfs/proc" 2>/dev/null; then umount "$WORK/rootfs/proc"; fi
    if [ -n "$NETNS" ]; then ip netns del "$NETNS"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
#  The lines of one instruction (RUN, CMD, HEALTHCHECK) of a stage, with
#  their continuations, without the instruction's name.
instruction () {
    awk -v stage="$1" -v what="$2" '
        /^FROM / { s = ($0 ~ (" AS " stage "$")); next }
        s && index($0, what " ") == 1 { on = 1 }
        s && on { print; if (!/\\$/) on = 0 }' compose/Dockerfile | sed "s/^$2 //"
}

#  1. What compose makes of the file.
docker-compose -f compose/compose.yaml config > "$WORK/config.yaml" 2> "$WORK/config.err" \
    || { cat "$WORK/config.err" >&2; fail "docker-compose config rejects compose/compose.yaml"; }
echo "test_compose: docker-compose config: ok"

#  2. The services. The component names come from the programs themselves.
names=$( ("$BIN_DIR/warmupctl" status --require '?' 2>&1 || true) | sed -n 's/.*(all, bus, \(.*\))$/\1/p')
[ -n "$names" ] || fail "cannot list the components from warmupctl"
PYTHON=/usr/bin/python3     #  Debian's: docker-compose brings its yaml module
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$WORK/config.yaml" "$names" <<'PY' || fail "compose.yaml (above)"
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
components = [n.strip() for n in sys.argv[2].split(",")]
services = config["services"]
errors = []
volumes_seen = {}
for name in ["bus"] + components:
    s = services.get(name)
    if s is None:
        errors.append("no service %s" % name)
        continue
    if s.get("restart") not in ("always", "unless-stopped", "on-failure"):
        errors.append("%s: no restart policy" % name)
    test = (s.get("healthcheck") or {}).get("test") or []
    if test[:1] != ["CMD"] or "warmupctl" not in test or test[test.index("--require") + 1:
            test.index("--require") + 2] != [name]:
        errors.append("%s: health check is not warmupctl status --require %s: %s"
                      % (name, name, test))
    vols = [v.split(":") for v in s.get("volumes") or []]
    config_mounts = [v for v in vols if v[1] == "/etc/warmup/warmup.cfg"]
    if not config_mounts or config_mounts[0][2:] != ["ro"] \
            or not config_mounts[0][0].endswith("/compose/deploy.cfg"):
        errors.append("%s: compose/deploy.cfg not mounted read-only at "
                      "/etc/warmup/warmup.cfg" % name)
    data = [v for v in vols if v[1] == "/var/lib/warmup"]
    if not data or data[0][0].startswith("/"):
        errors.append("%s: no named volume at /var/lib/warmup" % name)
    elif data[0][0] in volumes_seen:
        errors.append("%s shares volume %s with %s" % (name, data[0][0],
                                                       volumes_seen[data[0][0]]))
    else:
        volumes_seen[data[0][0]] = name
    if name != "bus" and (s.get("depends_on") or {}).get("bus", {}).get(
            "condition") != "service_healthy":
        errors.append("%s: does not wait for a healthy bus" % name)
    if s.get("build", {}).get("target") != "runtime":
        errors.append("%s: not built from the runtime stage" % name)
models = services.get("models")
if not models or models.get("profiles") != ["models"]:
    errors.append("no optional model server (profile models)")
for port in [p for s in services.values() for p in s.get("ports") or []]:
    if isinstance(port, dict):
        host_ip = port.get("host_ip", "")
    else:
        host_ip = port.split(":")[0] if port.count(":") >= 2 else ""
    if host_ip != "127.0.0.1":
        errors.append("port %s published beyond the host's loopback" % port)
for e in errors:
    print("test_compose: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
grep -q 'data_dir = "/var/lib/warmup"' compose/deploy.cfg \
    || fail "compose/deploy.cfg: data_dir is not the volumes' /var/lib/warmup"
#  The shared configuration loads (the programs refuse a bad one naming the key).
"$BIN_DIR/warmupctl" -c compose/deploy.cfg status --timeout 0 > "$WORK/cfg.log" 2>&1 || true
if grep -q "configuration rejected" "$WORK/cfg.log"; then
    cat "$WORK/cfg.log" >&2
    fail "compose/deploy.cfg is rejected"
fi
echo "test_compose: services: bus and $names, each healthy by its own check"

#  3. The Dockerfile's stages against setup.sh and against the binaries.
#  The packages a stage installs: the words after "install -y ..." up to "&&".
stage_packages () {
    awk -v stage="$1" '
        /^FROM / { s = ($0 ~ (" AS " stage "$")) ; next }
        s && /apt-get install/ { on = 1 }
        s && on { line = $0; sub(/.*--no-install-recommends/, "", line);
                  sub(/&&.*/, "", line); gsub(/\\/, "", line); printf "%s ", line;
                  if ($0 ~ /&&/ && $0 !~ /apt-get install/) on = 0 }
    ' compose/Dockerfile | tr -s ' ' '\n' | grep -v '^$' | sort -u
}
stage_packages build > "$WORK/build.pkgs"
stage_packages runtime > "$WORK/runtime.pkgs"
sed -n '/^PACKAGES=(/,/)/p' tools/setup.sh | tr -d '()' | sed 's/PACKAGES=//' \
    | tr -s ' \n' '\n' | grep -v '^$' | grep -vx libcmocka-dev | sort -u > "$WORK/setup.pkgs"
diff "$WORK/setup.pkgs" "$WORK/build.pkgs" > "$WORK/pkgs.diff" \
    || { cat "$WORK/pkgs.diff" >&2; fail "the build stage's packages are not tools/setup.sh's (< setup.sh, > Dockerfile)"; }
if grep -- '-dev$' "$WORK/runtime.pkgs"; then fail "-dev package in the runtime stage"; fi
missing=
for program in warmupd warmup-bus warmupctl warmup-analyzer warmup-engine warmup-scheduler \
               warmup-resource warmup-queue warmup-perf warmup-metrics warmup-proxy; do
    for lib in $(objdump -p "$BIN_DIR/$program" | awk '/NEEDED/ {print $2}'); do
        case "$lib" in libc.so.*|libm.so.*|ld-linux*|libasan*|libubsan*) continue ;; esac
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found {print $NF; found = 1}')
        [ -n "$path" ] || fail "$program links $lib, not found on this machine"
        pkg=
        real=$(readlink -f "$path")
        for candidate in "$path" "$real" "${real#/usr}" "/usr$path"; do
            [ -n "$pkg" ] || pkg=$( (dpkg -S "$candidate" 2>/dev/null || true) | head -1 | cut -d: -f1)
        done
        [ -n "$pkg" ] || fail "$program links $lib ($path): no Debian package owns it"
        grep -qx "$pkg" "$WORK/runtime.pkgs" || [[ $missing == *" $pkg("* ]] \
            || missing+=" $pkg($lib)"
    done
done
[ -z "$missing" ] || fail "the runtime stage lacks the packages of:$missing"
user=$(awk '/^FROM .* AS runtime/ {s = 1; next} /^FROM/ {s = 0} s && /^USER/ {print $2}' \
       compose/Dockerfile)
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] \
    || fail "the runtime stage does not run as a non-root user"
echo "test_compose: Dockerfile: build stage = setup.sh's packages; runtime stage" \
     "provides every linked library ($(wc -l < "$WORK/runtime.pkgs") packages), user $user"

#  4. The build stage on a context of its COPY lines (what .dockerignore
#  and the COPY lines let in), with its own cmake commands.
if [ "$BUILD_TOO" = --build ]; then
    mkdir -p "$WORK/context"
    awk '/^FROM .* AS build$/ {s = 1; next} /^FROM/ {s = 0}
         s && /^COPY / && !/--from/ {for (i = 2; i < NF; i++) print $i}' compose/Dockerfile \
        | while read -r path; do cp -r "$path" "$WORK/context/"; done
    commands=$(instruction build RUN | sed -n '/^cmake/,$p' \
               | sed "s|/build|$WORK/b|g; s|/out|$WORK/out|g")
    (cd "$WORK/context" && eval "$commands") > "$WORK/build.log" 2>&1 \
        || { tail -30 "$WORK/build.log" >&2; fail "the build stage's commands on its COPY context"; }
    for program in warmupd warmup-bus warmupctl warmup-analyzer warmup-engine warmup-scheduler \
                   warmup-resource warmup-queue warmup-perf warmup-metrics warmup-proxy; do
        [ -x "$WORK/out/usr/bin/$program" ] || fail "the image would lack /usr/bin/$program"
    done
    [ -f "$WORK/out/etc/warmup/warmup.cfg" ] || fail "the image would lack /etc/warmup/warmup.cfg"
    echo "test_compose: the build stage builds and installs from its COPY context"
fi

#  5. The runtime stage in a Debian 12 root made without an engine.
if [ -n "$ROOTFS" ]; then
    ROOT="$WORK/rootfs"
    debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian \
        > "$WORK/debootstrap.log" 2>&1 \
        || { tail -5 "$WORK/debootstrap.log" >&2; fail "debootstrap of Debian 12"; }
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    mount -t proc proc "$ROOT/proc"
    chroot "$ROOT" sh -c "$(instruction runtime RUN)" > "$WORK/run.log" 2>&1 \
        || { tail -20 "$WORK/run.log" >&2; fail "the runtime stage's RUN"; }
    cp -a "$WORK/out/." "$ROOT/"
    user=$(instruction runtime USER)
    #  CMD and HEALTHCHECK in exec form: a JSON array of strings.
    json_words () { "$PYTHON" -c 'import json, shlex, sys; print(shlex.join(json.loads(sys.stdin.read())))'; }
    cmd=$(instruction runtime CMD | json_words)
    health=$(instruction runtime HEALTHCHECK | sed -n 's/.*CMD \(\[.*\]\)$/\1/p' | json_words)
    [ -n "$cmd" ] && [ -n "$health" ] || fail "no CMD or HEALTHCHECK in the runtime stage"
    #  In a network namespace of its own, as a container: the sample
    #  configuration's loopback ports are its own.
    NETNS="wp-image-$$"
    ip netns add "$NETNS"
    ip -n "$NETNS" link set lo up
    ip netns exec "$NETNS" chroot --userspec="$user" "$ROOT" \
        sh -c "cd /var/lib/warmup && exec $cmd" > "$WORK/cmd.log" 2>&1 &
    DAEMON=$!
    ip netns exec "$NETNS" chroot --userspec="$user" "$ROOT" sh -c "$health" \
        > "$WORK/health.log" 2>&1 \
        || { cat "$WORK/health.log" "$WORK/cmd.log" >&2; fail "the image's HEALTHCHECK"; }
    kill -TERM "$DAEMON"
    wait "$DAEMON" || fail "the image's CMD: SIGTERM gave exit $?"
    DAEMON=
    echo "test_compose: runtime stage on debootstrap's Debian 12: '$cmd' as $user," \
         "healthy by '$health' ($(du -sm --exclude=proc "$ROOT" | cut -f1) MB root)"
fi
echo "test_compose: ok"
