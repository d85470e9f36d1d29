#!/usr/bin/env bash
# A local durin stack on loopback: redis-server, durin-fcgi and nginx running the
# shipped example site (nginx/example-site.conf) with paths rewritten to the state dir.
#
#   scripts/devstack.sh start | stop | run | status | seed | redis-stop | redis-start
#
# Environment: DURIN_STATE_DIR (default .devstack), DURIN_HTTP_PORT (default 8080),
# DURIN_BIN_DIR (default .build/debug), DURIN_HTTP_REUSEPORT=1 (nginx listens with
# `reuseport`, beside a socket the caller keeps bound to the port: the test suite's
# way to hold its port without a race). Every DURIN_* variable is passed on to
# durin-fcgi and durinctl; DURIN_REDIS_URL, DURIN_LISTEN and DURIN_SECRET_KEY
# default to the stack's own.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${DURIN_STATE_DIR:-$root/.devstack}
mkdir -p "$state"
state=$(cd "$state" && pwd)
port=${DURIN_HTTP_PORT:-8080}
listen_options=""
if [ "${DURIN_HTTP_REUSEPORT:-0}" = 1 ]; then listen_options=" reuseport"; fi
bin=${DURIN_BIN_DIR:-$root/.build/debug}

# The stack's Redis is closed like a production one: no TCP, and a connection that
# has not logged in runs nothing. Its password is kept in the state dir (0600) and
# reaches redis-server through a config file and redis-cli through REDISCLI_AUTH,
# never a command line.
[ -s "$state/redis-password" ] || (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$state/redis-password")
REDISCLI_AUTH=$(cat "$state/redis-password")
export REDISCLI_AUTH
export DURIN_REDIS_URL=${DURIN_REDIS_URL:-unix://:$REDISCLI_AUTH@$state/redis.sock}
export DURIN_LISTEN=${DURIN_LISTEN:-$state/durin.sock}
# The sign-in page (/api/auth/signin/) logs in to the demo's browser client (seed).
export DURIN_SIGNIN_CLIENT=${DURIN_SIGNIN_CLIENT:-browser}
if [ -z "${DURIN_SECRET_KEY:-}" ]; then
    [ -s "$state/secret" ] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$state/secret")
    DURIN_SECRET_KEY=$(cat "$state/secret")
    export DURIN_SECRET_KEY
fi
# The proxy key nginx proves its requests with (docs/security.md): durin-fcgi gets it
# in its environment, nginx from a private include (nginx_config).
if [ -z "${DURIN_PROXY_KEY:-}" ]; then
    [ -s "$state/proxy-key" ] || (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$state/proxy-key")
    DURIN_PROXY_KEY=$(cat "$state/proxy-key")
    export DURIN_PROXY_KEY
fi

die() { echo "devstack: $*" >&2; exit 1; }

# Waits up to ~10 s for a command to succeed.
wait_for() {
    local i
    for i in $(seq 1 200); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    return 1
}

# Whether a pid runs. `kill -0` alone also succeeds for a zombie (a process that has
# died and that its parent has not reaped yet), so the state in /proc must not be Z.
running() {
    local stat
    kill -0 "$1" 2>/dev/null && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    case "${stat%% *}" in Z|X) return 1 ;; esac
}
alive() { [ -s "$1" ] && running "$(cat "$1")"; }
wait_for_exit() {
    local i
    for i in $(seq 1 200); do
        running "$1" || return 0
        sleep 0.05
    done
    return 1
}

redis_start() {
    alive "$state/redis.pid" && return 0
    (umask 077 && printf 'requirepass %s\n' "$REDISCLI_AUTH" > "$state/redis.conf")
    redis-server "$state/redis.conf" --port 0 --unixsocket "$state/redis.sock" --unixsocketperm 700 \
        --dir "$state" --dbfilename dump.rdb --save "" --appendonly no \
        --pidfile "$state/redis.pid" --daemonize yes --logfile "$state/redis.log" </dev/null >/dev/null 2>&1
    wait_for redis-cli -s "$state/redis.sock" ping || die "redis-server did not start (see $state/redis.log)"
}

redis_stop() {
    if alive "$state/redis.pid"; then
        local pid; pid=$(cat "$state/redis.pid")
        kill "$pid"
        wait_for_exit "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/redis.pid"
}

durin_start() {
    alive "$state/durin.pid" && return 0
    [ -x "$bin/durin-fcgi" ] || die "no $bin/durin-fcgi: run swift build first"
    # A socket file left by an earlier run would pass the wait below before the new
    # responder listens (it checks its Redis rights first).
    case "$DURIN_LISTEN" in /*) rm -f "$DURIN_LISTEN" ;; esac
    "$bin/durin-fcgi" </dev/null >>"$state/durin.log" 2>&1 &
    echo $! > "$state/durin.pid"
    wait_for test -S "$DURIN_LISTEN" || die "durin-fcgi did not start (see $state/durin.log)"
}

durin_stop() {
    if alive "$state/durin.pid"; then
        local pid; pid=$(cat "$state/durin.pid")
        kill -TERM "$pid"
        wait_for_exit "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/durin.pid"
}

nginx_config() {
    local n="$state/nginx"
    mkdir -p "$n/durin" "$n/tmp" "$n/logs" "$n/extra"
    local snippet
    for snippet in "$root"/nginx/durin-*.conf; do
        sed -e "s#/etc/nginx/durin/#$n/durin/#g" "$snippet" > "$n/durin/$(basename "$snippet")"
    done
    # Private from its first byte, as the package writes it.
    (umask 077 && printf '# durin proxy key (devstack)\nfastcgi_param DURIN_PROXY_KEY "%s";\n' "$DURIN_PROXY_KEY" > "$n/durin/proxy-key.conf")
    sed -e "s#/etc/nginx/durin/#$n/durin/#g" \
        -e "s#unix:/run/durin/durin.sock#unix:$DURIN_LISTEN#g" \
        -e "s#unix:/run/durin/demo-app.sock#unix:$state/demo-app.sock#g" \
        -e "s#unix:/run/durin/demo-socket.sock#unix:$state/demo-socket.sock#g" \
        -e "s#listen 80 default_server;#listen 127.0.0.1:$port default_server$listen_options;#" \
        -e "s#listen 80;#listen 127.0.0.1:$port;#" \
        "$root/nginx/example-site.conf" > "$n/site.conf"
    local user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat > "$n/nginx.conf" <<CONF
$user_line
worker_processes 2;
pid $n/nginx.pid;
error_log $n/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    include $n/site.conf;
    # Servers a test adds beside the example site (then reloads nginx).
    include $n/extra/*.conf;
}
CONF
}

nginx_start() {
    alive "$state/nginx/nginx.pid" && return 0
    nginx_config
    rm -f "$state/demo-app.sock"
    nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -e "$state/nginx/logs/error.log" \
        </dev/null >/dev/null 2>>"$state/nginx/logs/error.log" || die "nginx did not start (see $state/nginx/logs/error.log)"
    wait_for curl -s -o /dev/null "http://127.0.0.1:$port/" || die "nginx does not answer on 127.0.0.1:$port"
}

nginx_stop() {
    if alive "$state/nginx/nginx.pid"; then
        local pid; pid=$(cat "$state/nginx/nginx.pid")
        kill -QUIT "$pid"
        wait_for_exit "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
}

seed() {
    local ctl="$bin/durinctl"
    for c in web cli mobile; do "$ctl" client add "$c" >/dev/null 2>&1 || true; done
    # A client for browsers: its login sets the durin_session cookie (docs/nginx.md).
    "$ctl" client add browser --cookie >/dev/null 2>&1 || true
    if ! "$ctl" user show demo >/dev/null 2>&1; then
        # Staff, so that the demo signs in to the operator console too.
        echo "demo-password" | "$ctl" user add demo --password-stdin --staff --field email=demo@example.com >/dev/null
    fi
}

case "${1:-}" in
    start)
        redis_start
        durin_start
        nginx_start
        # Ready when a request goes all the way through nginx to durin-fcgi.
        wait_for bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/api/auth/login/ | grep -q 405" \
            || die "the stack does not answer (see $state/*.log)"
        echo "devstack: http://127.0.0.1:$port (state in $state)"
        ;;
    stop)
        nginx_stop
        durin_stop
        redis_stop
        ;;
    status)
        for p in redis.pid durin.pid nginx/nginx.pid; do
            if alive "$state/$p"; then echo "$p: running ($(cat "$state/$p"))"; else echo "$p: stopped"; fi
        done
        ;;
    seed) seed ;;
    run)
        # Foreground: start, seed the demo, show how to use it, stop on Ctrl-C.
        "$0" start
        seed
        trap '"$0" stop; exit 0' INT TERM
        cat <<MSG

durin is running on http://127.0.0.1:$port (clients web, cli, mobile; user demo / demo-password)

  curl -s -X POST http://127.0.0.1:$port/api/auth/login/ -H 'Content-Type: application/json' \\
       -d '{"username":"demo","password":"demo-password","client":"web"}'
  TOKEN=...   # the "token" from the answer
  curl -s http://127.0.0.1:$port/api/ping/     -H "Authorization: Token \$TOKEN"
  curl -s http://127.0.0.1:$port/api/web-only/ -H "Authorization: Token \$TOKEN"
  curl -s -X POST http://127.0.0.1:$port/api/auth/refresh/ -H "Authorization: Token \$TOKEN"
  curl -s -X POST http://127.0.0.1:$port/api/auth/logout/  -H "Authorization: Token \$TOKEN"
  DURIN_REDIS_URL=unix://:\$(cat $state/redis-password)@$state/redis.sock $bin/durinctl token list

A page for browsers: http://127.0.0.1:$port/app/ (it sends you to sign in: demo / demo-password)
The operator console: http://127.0.0.1:$port/durin/console/ (demo / demo-password)

Ctrl-C stops the stack.
MSG
        while true; do sleep 3600 & wait $!; done
        ;;
    redis-start) redis_start ;;
    durin-start) durin_start ;;
    durin-stop) durin_stop ;;
    redis-stop) redis_stop ;;
    *) echo "usage: $0 start|stop|run|status|seed|redis-start|redis-stop|durin-start|durin-stop" >&2; exit 2 ;;
esac
