#!/usr/bin/env bash
#  compose-netns.sh - run the services of compose/compose.yaml on separate
#  "hosts" without a container engine: each service in a network namespace
#  of its own, all joined by a bridge in a switch namespace of its own, with
#  addresses of the benchmarking test range 198.18.0.0/24 that exist only
#  inside those namespaces (nothing is added to the machine's own network).
#
#  What runs is what compose would run, read from `docker-compose config`:
#  each service's command, its volumes (the shared configuration bind-
#  mounted read-only at its path, a named volume per service, kept across
#  restarts), its health check (run inside its host, as compose does) and
#  its depends_on order; service names resolve as compose's DNS resolves
#  them (an /etc/hosts in each host's view). The programs come from a build
#  directory instead of an image: the only difference. Services behind a
#  profile (the model server) are left out.
#
#  Usage: tools/compose-netns.sh [--bin-dir DIR] [--test] [--keep]
#    (root; ip, unshare, overlayfs and docker-compose needed)
#    --bin-dir DIR  the programs (default build/bin)
#    --test         the multi-host test: every service healthy; a usage
#                   event published on a client host flows through the
#                   hosts to a warmup.done made on the queue's host; the
#                   analyzer's host and then the bus's host killed (kill -9
#                   of each process) and restarted: they rejoin and the
#                   flow passes again. Exit 0 passed, 1 failed, 77 skipped
#                   (no namespaces here: a loud banner says so)
#    --keep         leave the work directory (logs, volumes) for a look
#  Without --test: start every service, print where each runs, wait for
#  Ctrl-C, stop them (SIGTERM) and remove the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR=build/bin
TEST=
KEEP=
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) BIN_DIR=$2; shift 2 ;;
        --test) TEST=1; shift ;;
        --keep) KEEP=1; shift ;;
        *) echo "compose-netns: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
BIN_DIR=$(cd "$BIN_DIR" && pwd)
SCALE=${WP_TEST_TIME_SCALE:-1}
COMPOSE=compose/compose.yaml
NET=198.18.0

say () { echo "compose-netns: $*" >&2; }
skip () {
    echo "################################################################" >&2
    echo "## compose-netns: SKIPPED: $*" >&2
    echo "## The multi-host test needs root, network namespaces and" >&2
    echo "## overlayfs: it did NOT run here, nothing was proven." >&2
    echo "################################################################" >&2
    exit 77
}

#  --- What this machine allows ------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "not root"
for tool in ip unshare mount; do
    command -v $tool >/dev/null || skip "no $tool"
done
command -v docker-compose >/dev/null \
    || { say "docker-compose is needed to read $COMPOSE (apt-get install docker-compose)"; exit 1; }
for p in warmup-bus warmupctl; do
    [ -x "$BIN_DIR/$p" ] || { say "no $BIN_DIR/$p: build first (tools/setup.sh)"; exit 1; }
done

#  Names unique to this run: several runs may share the machine.
TAG="wpn$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/compose-netns-XXXXXX")
chmod 755 "$WORK"
SWITCH="$TAG-sw"
declare -A PIDS=()          #  service -> pid of its process
NAMESPACES=()
#  Stop every process of the namespaces (PIDS holds the shells that
#  started them: ending a shell leaves its program running), then
#  delete the namespaces.
ns_pids () {
    local ns
    for ns in "${NAMESPACES[@]}"; do ip netns pids "$ns" 2>/dev/null; done
}
cleanup () {
    local rc=$? pid n
    for pid in $(ns_pids); do kill -TERM "$pid" 2>/dev/null || true; done
    for n in $(seq 1 50); do
        [ -n "$(ns_pids)" ] || break
        sleep 0.1
    done
    for pid in $(ns_pids); do kill -KILL "$pid" 2>/dev/null || true; done
    for svc in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$svc]}" 2>/dev/null || true
        wait "${PIDS[$svc]}" 2>/dev/null || true
    done
    for ns in "${NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [ -n "$KEEP" ] || [ $rc -eq 1 ]; then
        say "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$SWITCH" 2>/dev/null || skip "cannot create a network namespace"
NAMESPACES+=("$SWITCH")
mkdir -p "$WORK/probe/lower" "$WORK/probe/mnt"
ip netns exec "$SWITCH" mount -t overlay overlay \
    -o "lowerdir=$WORK/probe/lower:/etc" "$WORK/probe/mnt" 2>/dev/null \
    || skip "no overlayfs"
ip -n "$SWITCH" link add probe0 type veth peer name probe1 2>/dev/null \
    || skip "cannot create veth pairs"
ip -n "$SWITCH" link del probe0

#  --- The services, as compose reads them -------------------------------------
#  One line per service: name, then shell-quoted fields (command, health
#  test, depends_on, volumes), for the arrays below.
docker-compose -f "$COMPOSE" config > "$WORK/compose.yaml"
#  Debian's interpreter: docker-compose brings its yaml module.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$WORK/compose.yaml" > "$WORK/services.sh" <<'PY'
import shlex, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
out = []
for name, s in d["services"].items():
    if s.get("profiles"):
        continue                      # optional services (the model server)
    cmd = s.get("command") or []
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    if not cmd:
        sys.exit("compose-netns: service %s has no command (the image's CMD is "
                 "not read here)" % name)
    test = (s.get("healthcheck") or {}).get("test") or []
    if test and test[0] == "CMD-SHELL":
        test = ["sh", "-c", test[1]]
    elif test and test[0] == "CMD":
        test = test[1:]
    deps = list((s.get("depends_on") or {}).keys())
    tmpfs = s.get("tmpfs") or []
    if isinstance(tmpfs, str):
        tmpfs = [tmpfs]
    vols = []
    for v in s.get("volumes") or []:
        if isinstance(v, dict):
            vols.append("%s|%s|%s|%s" % (v["type"], v["source"], v["target"],
                                         "ro" if v.get("read_only") else "rw"))
            continue
        parts = v.split(":")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else "rw"
        kind = "bind" if source.startswith("/") else "volume"
        vols.append("%s|%s|%s|%s" % (kind, source, target, "ro" if "ro" in mode.split(",") else "rw"))
    q = lambda xs: " ".join(shlex.quote(x) for x in xs)
    out.append("SERVICES+=(%s)" % shlex.quote(name))
    out.append("CMD_%s=(%s)" % (name.replace("-", "_"), q(cmd)))
    out.append("HEALTH_%s=(%s)" % (name.replace("-", "_"), q(test)))
    out.append("DEPS_%s=(%s)" % (name.replace("-", "_"), q(deps)))
    out.append("VOLS_%s=(%s)" % (name.replace("-", "_"), q(vols)))
    out.append("TMPFS_%s=(%s)" % (name.replace("-", "_"), q(tmpfs)))
    out.append("RO_%s=%s" % (name.replace("-", "_"), "1" if s.get("read_only") else ""))
print("\n".join(out))
PY
SERVICES=()
# shellcheck disable=SC1090
source "$WORK/services.sh"
[ ${#SERVICES[@]} -gt 0 ] || { say "no services in $COMPOSE"; exit 1; }
#  client: an IDE back end's host, with the services' configuration (the
#  bus's read-only binds) to find the bus, and the installation's keys read
#  only (the bus's CURVE key and a key it admits; a real client host gets
#  the bus's public key and a pair of its own: docs/security.md).
HOSTS=("${SERVICES[@]}" client)
VOLS_client=()
for spec in "${VOLS_bus[@]}"; do
    if [[ $spec == bind\|*\|ro ]]; then VOLS_client+=("$spec"); fi
    if [[ $spec == volume\|keys\|* ]]; then VOLS_client+=("${spec%|*}|ro"); fi
done
TMPFS_client=()
RO_client=1

#  --- The network: a bridge in the switch namespace, one host per service -----
ip -n "$SWITCH" link add br0 type bridge
ip -n "$SWITCH" link set br0 up
declare -A ADDR=()
i=0
for host in "${HOSTS[@]}"; do
    i=$((i + 1))
    ns="$TAG-$host"
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ADDR[$host]="$NET.$((10 + i))"
    ip link add eth0 netns "$ns" type veth peer name "v$i" netns "$SWITCH"
    ip -n "$SWITCH" link set "v$i" master br0 up
    ip -n "$ns" addr add "${ADDR[$host]}/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
done
{
    echo "127.0.0.1 localhost"
    for host in "${HOSTS[@]}"; do echo "${ADDR[$host]} $host"; done
} > "$WORK/hosts"

#  --- A host's view of the file system ------------------------------------------
#  A layer per host holds the mount points compose would create (the
#  volumes' targets, the folder of the programs) and /etc/hosts; each
#  top-level folder touched is seen through a read-only overlay of the
#  layer on the real one, in the mount namespace `ip netns exec` makes, so
#  nothing changes outside it. Then, as compose does: the volumes
#  bind-mounted (the configuration read-only, a folder under
#  $WORK/volumes per named volume, kept across restarts), the programs at
#  /opt/warmup/bin (in the image: /usr/bin), the tmpfs mounts, the root
#  read-only (read_only), and the command runs as the image's user without
#  capabilities or new privileges (USER, cap_drop: ALL, no-new-privileges).
IMAGE_USER=$(awk '/^FROM .* AS runtime/ {s = 1; next} /^FROM/ {s = 0}
                  s && /^USER/ {print $2; exit}' compose/Dockerfile)
[ -n "$IMAGE_USER" ] || { say "no USER in compose/Dockerfile's runtime stage"; exit 1; }
prepare_host () {
    local host=$1 layer="$WORK/hosts.d/$1" spec kind source target mode
    local -n vols="VOLS_${1//-/_}"
    mkdir -p "$layer/etc" "$layer/opt/warmup/bin"
    cp "$WORK/hosts" "$layer/etc/hosts"
    for spec in ${vols[@]+"${vols[@]}"}; do
        IFS='|' read -r kind source target mode <<< "$spec"
        if [ "$kind" = bind ] && [ -f "$source" ]; then
            mkdir -p "$layer$(dirname "$target")"
            : > "$layer$target"
        else
            mkdir -p "$layer$target"
        fi
        if [ "$kind" = volume ]; then
            mkdir -p "$WORK/volumes/$source"
            chown "$IMAGE_USER" "$WORK/volumes/$source"
        fi
    done
    #  A volume mounted inside another (the keys inside a data volume): its
    #  mount point is made in the outer volume, as compose does.
    local inner ikind isource itarget imode
    for spec in ${vols[@]+"${vols[@]}"}; do
        IFS='|' read -r kind source target mode <<< "$spec"
        [ "$kind" = volume ] || continue
        for inner in ${vols[@]+"${vols[@]}"}; do
            IFS='|' read -r ikind isource itarget imode <<< "$inner"
            if [[ $itarget == "$target"/* ]]; then
                mkdir -p "$WORK/volumes/$source${itarget#"$target"}"
                chown "$IMAGE_USER" "$WORK/volumes/$source${itarget#"$target"}"
            fi
        done
    done
    return 0
}

#  The shell commands that build a host's view, for sh -c.
host_mounts () {
    local host=$1 layer="$WORK/hosts.d/$1" top script="" spec kind source target mode
    local -n vols="VOLS_${1//-/_}" tmpfs="TMPFS_${1//-/_}" ro="RO_${1//-/_}"
    for top in "$layer"/*; do
        top=/$(basename "$top")
        script+="mount -t overlay overlay -o lowerdir=$layer$top:$top $top && "
    done
    for spec in ${vols[@]+"${vols[@]}"}; do
        IFS='|' read -r kind source target mode <<< "$spec"
        [ "$kind" = volume ] && source="$WORK/volumes/$source"
        script+="mount --bind $source $target && "
        if [ "$mode" = ro ]; then script+="mount -o remount,bind,ro $target && "; fi
    done
    script+="mount --bind $BIN_DIR /opt/warmup/bin && mount -o remount,bind,ro /opt/warmup/bin && "
    for target in ${tmpfs[@]+"${tmpfs[@]}"}; do
        script+="mount -t tmpfs -o mode=1777 tmpfs $target && "
    done
    if [ -n "${ro:-}" ]; then script+="mount -o remount,bind,ro / && "; fi
    echo "$script"
}

#  Run a command on a host (its network, its view, its host name, the
#  image's user), in the foreground; programs found on PATH as in the image.
on_host () {
    local host=$1; shift
    ip netns exec "$TAG-$host" unshare --uts sh -c \
        "hostname $host && $(host_mounts "$host") exec setpriv --reuid=${IMAGE_USER%%:*} \
         --regid=${IMAGE_USER##*:} --clear-groups --no-new-privs --inh-caps=-all \
         --bounding-set=-all env PATH=/opt/warmup/bin:/usr/bin:/bin \"\$@\"" sh "$@"
}

#  Start a service's command on its host, in the background; its output
#  goes to $WORK/<service>.log.
start_service () {
    local svc=$1
    local -n cmd="CMD_${1//-/_}"
    on_host "$svc" "${cmd[@]}" >> "$WORK/$svc.log" 2>&1 &
    PIDS[$svc]=$!
    say "$svc: started on ${ADDR[$svc]} (pid ${PIDS[$svc]}): ${cmd[*]}"
}

#  Run a service's health check on its host until it passes (each run is
#  bounded by its own --timeout; compose's retries), or fail.
wait_healthy () {
    local svc=$1 tries=$((6 * SCALE)) n
    local -n test="HEALTH_${1//-/_}"
    [ ${#test[@]} -gt 0 ] || { say "$svc has no health check"; return 0; }
    for n in $(seq 1 $tries); do
        if on_host "$svc" "${test[@]}" > "$WORK/$svc.health" 2>&1; then
            say "$svc: healthy"
            return 0
        fi
        kill -0 "${PIDS[$svc]}" 2>/dev/null \
            || { say "$svc exited:"; tail -20 "$WORK/$svc.log" >&2; return 1; }
    done
    say "$svc: not healthy after $tries checks:"
    cat "$WORK/$svc.health" >&2
    tail -20 "$WORK/$svc.log" >&2
    return 1
}

#  Start services in depends_on order, waiting for each level's health.
start_all () {
    local started=" " svc dep ready level
    while [ "$(echo $started | wc -w)" -lt ${#SERVICES[@]} ]; do
        level=()
        for svc in "${SERVICES[@]}"; do
            [[ $started == *" $svc "* ]] && continue
            ready=1
            local -n deps="DEPS_${svc//-/_}"
            for dep in ${deps[@]+"${deps[@]}"}; do
                [[ $started == *" $dep "* ]] || ready=
            done
            unset -n deps
            if [ -n "$ready" ]; then level+=("$svc"); fi
        done
        [ ${#level[@]} -gt 0 ] || { say "depends_on has a cycle"; return 1; }
        for svc in "${level[@]}"; do start_service "$svc"; done
        for svc in "${level[@]}"; do wait_healthy "$svc"; started+="$svc "; done
    done
}

#  Kill every process of a host (kill -9: the host died), wait until gone.
kill_host () {
    local host=$1 pid
    for pid in $(ip netns pids "$TAG-$host"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait "${PIDS[$host]}" 2>/dev/null || true
    unset "PIDS[$host]"
    [ -z "$(ip netns pids "$TAG-$host")" ] || { say "$host: processes left"; return 1; }
    say "$host: killed"
}

for host in "${HOSTS[@]}"; do prepare_host "$host"; done
start_all

if [ -z "$TEST" ]; then
    say "all ${#SERVICES[@]} services healthy; hosts:"
    for host in "${HOSTS[@]}"; do echo "  $host ${ADDR[$host]} (ip netns exec $TAG-$host ...)"; done
    say "a client: ip netns exec $TAG-client ... (see --test); Ctrl-C stops"
    wait
fi

#  --- The test ----------------------------------------------------------------
fail () { say "FAILED: $*"; exit 1; }
ROUND=0
#  A usage burst on the client host (four requests of one user, 10 s apart
#  in event time, the last now: a regular pattern the engine predicts) and
#  the warmup.done that comes back to the client, made on the queue's host.
flow () {
    ROUND=$((ROUND + 1))
    local model="netns-model-$ROUND" line deadline
    local tail_out="$WORK/tail-$ROUND.log"
    exec {TAIL}< <(on_host client warmupctl -c /etc/warmup/warmup.cfg tail \
                       --topic warmup.done --timeout $((60 * SCALE)) 2>&1)
    local tail_pid=$!
    deadline=$((SECONDS + 30 * SCALE))
    while read -r -t $((deadline - SECONDS > 0 ? deadline - SECONDS : 1)) -u "$TAIL" line; do
        echo "$line" >> "$tail_out"
        [[ $line == *"tail ready"* ]] && break
    done
    [[ ${line:-} == *"tail ready"* ]] || fail "warmupctl tail did not start on the client host"
    local now i
    now=$(($(date +%s%3N)))
    for i in 3 2 1 0; do
        on_host client warmupctl -c /etc/warmup/warmup.cfg emit --user "user-$ROUND" \
            --model "$model" --task completion --at $((now - i * 10000)) \
            || fail "emit from the client host"
    done
    deadline=$((SECONDS + 60 * SCALE))
    local found=
    while [ $SECONDS -lt $deadline ] \
          && read -r -t $((deadline - SECONDS > 0 ? deadline - SECONDS : 1)) -u "$TAIL" line; do
        echo "$line" >> "$tail_out"
        if [[ $line == *"\"model\":\"$model\""* && $line == *'"ok":true'* ]]; then
            found=$line
            break
        fi
    done
    exec {TAIL}<&-
    kill -TERM "$tail_pid" 2>/dev/null || true
    [ -n "$found" ] || fail "no warmup.done for $model at the client (see $tail_out)"
    #  Made by the queue on its own host (its source names host "queue").
    [[ $found == *'"source":"queue/queue:'* ]] \
        || fail "the warmup.done did not come from the queue's host: $found"
    say "flow $ROUND: usage from client ${ADDR[client]} -> warmup.done of $model from the queue on ${ADDR[queue]}, received at the client"
}

#  The whole service as seen from the client host.
all_healthy () {
    on_host client warmupctl -c /etc/warmup/warmup.cfg status --require all \
        --timeout $((30 * SCALE)) > "$WORK/status.log" 2>&1 \
        || { cat "$WORK/status.log" >&2; fail "not every component is live, seen from the client"; }
    say "client: all seven components live"
}

all_healthy
flow
for host in analyzer bus; do
    kill_host "$host"
    start_service "$host"
    wait_healthy "$host"
    all_healthy
    flow
done
#  The analyzer kept what it learned across its host's death: its store
#  (its volume) holds the pairs of the flows before.
[ -s "$WORK/volumes/analyzer-data/analyzer/data.mdb" ] \
    || fail "no analyzer store in its volume"
say "PASSED: ${#SERVICES[@]} services on ${#SERVICES[@]} hosts; the analyzer's and the bus's hosts died and rejoined"
