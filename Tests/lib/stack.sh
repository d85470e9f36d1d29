# Sourced by the tests of what stands in front of durin (Tests/caddy, Tests/apache,
# Tests/browser): a stack of their own (scripts/devstack.sh: redis-server, durin-fcgi
# and nginx with the example site on loopback) in a temporary directory, stopped and
# removed at exit, and `ctl`, durinctl configured as the stack's responder is.
#
# Needs `root` (the repository). Sets state, port, bin; exports the stack's DURIN_*
# settings (add more before start_stack). A caller that starts servers of its own
# defines stop_own, which runs first at exit.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
state=$(mktemp -d "/tmp/durin-$(basename "$(dirname "${BASH_SOURCE[1]}")").XXXXXX")
port=$(free_port)
bin=$(swift build --package-path "$root" --show-bin-path)
export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_PASSWORD_ITERATIONS=1000 DURIN_LOG_LEVEL=warning
stop_stack() {
    if declare -F stop_own >/dev/null; then stop_own || true; fi
    "$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap stop_stack EXIT

start_stack() {
    "$root/scripts/devstack.sh" start >/dev/null
    REDISCLI_AUTH=$(cat "$state/redis-password")
    export REDISCLI_AUTH
}

ctl() {
    DURIN_REDIS_URL="unix://:$REDISCLI_AUTH@$state/redis.sock" DURIN_SECRET_KEY=$(cat "$state/secret") \
        DURIN_PROXY_KEY=$(cat "$state/proxy-key") "$bin/durinctl" "$@"
}
