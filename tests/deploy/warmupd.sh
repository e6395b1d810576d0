#  warmupd.sh - sourced by the deployment tests that talk to a running
#  warmupd: start one in a scratch directory (ipc:// bus endpoints, files
#  of mode 0600, no CURVE; the proxy's HTTP listener on a free port), wait
#  until its proxy listens and all seven components are alive, stop it.
#  Needs fail () and WP_TEST_TIME_SCALE from the caller.

#  wp_warmupd_start BUILD_DIR DIR: sets WP_DAEMON (pid), WP_URL
#  (http://127.0.0.1:PORT), WP_PUB and WP_SUB (the bus endpoints).
wp_warmupd_start () {
    local build=$1 dir=$2 scale=${WP_TEST_TIME_SCALE:-1}
    WP_PUB="ipc://$dir/pub" WP_SUB="ipc://$dir/sub"
    cat > "$dir/warmup.cfg" <<CFG
metrics_listen = off
bus
    pub_endpoint = "$WP_PUB"
    sub_endpoint = "$WP_SUB"
store
    data_dir = "$dir/var"
CFG
    "$build/bin/warmupd" -c "$dir/warmup.cfg" --proxy-listen 127.0.0.1:0 \
        > "$dir/warmupd.log" 2>&1 &
    WP_DAEMON=$!
    WP_URL=
    #  The log line that says where it listens (port 0 took a free one).
    for _ in $(seq 1 $((200 * scale))); do
        WP_URL=$(grep -o "proxy: serving http://[0-9.:]*" "$dir/warmupd.log" \
                 | sed 's/proxy: serving //' || true)
        [ -n "$WP_URL" ] && break
        kill -0 "$WP_DAEMON" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$WP_URL" ] || { cat "$dir/warmupd.log" >&2; fail "warmupd's proxy did not listen"; }
    "$build/bin/warmupctl" -c "$dir/warmup.cfg" status --require all \
        --timeout $((30 * scale)) > "$dir/status.log" 2>&1 \
        || { cat "$dir/status.log" "$dir/warmupd.log" >&2; fail "warmupd not healthy"; }
}

#  wp_warmupd_stop: SIGTERM, which must end it with exit 0.
wp_warmupd_stop () {
    kill -TERM "$WP_DAEMON"
    wait "$WP_DAEMON" || fail "warmupd: SIGTERM gave exit $?"
    WP_DAEMON=
}

#  wp_warmupd_kill: for an EXIT trap; quiet when nothing runs.
wp_warmupd_kill () {
    if [ -n "${WP_DAEMON:-}" ]; then
        kill -KILL "$WP_DAEMON" 2>/dev/null
        wait "$WP_DAEMON" 2>/dev/null || true
    fi
}
