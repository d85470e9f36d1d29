#!/usr/bin/env bash
# Caddy as durin's second front (`make test-caddy`, part of `make test`): Debian's
# caddy serving caddy/Caddyfile.example as shipped (only its socket, key file, site
# address and upstream rewritten for a temporary directory) in front of a stack of
# its own (scripts/devstack.sh) and a protected upstream (upstream.py).
#
#   Tests/caddy/run.sh      (needs caddy, python3; a debug build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v caddy >/dev/null || { echo "caddy tests: install caddy (Debian 12: apt-get install caddy)" >&2; exit 1; }

. "$root/Tests/lib/stack.sh"
caddy_port=$(free_port) upstream_port=$(free_port)
pids=()
stop_own() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
start_stack
ctl client add web --throttle 3/m >/dev/null
ctl client add cli >/dev/null
ctl client add forever --ttl never >/dev/null
printf '%s\n' 'ann-pw' | ctl user add ann --password-stdin >/dev/null
printf '%s\n' 'tess-pw' | ctl user add tess --password-stdin >/dev/null

# The shipped file, pointed at this stack. The key file is Caddy's own, as the
# example's set-up writes it.
mkdir -p "$state/caddy"
(umask 077 && printf 'env DURIN_PROXY_KEY %s\n' "$(cat "$state/proxy-key")" > "$state/caddy/durin-proxy-key.caddy")
{
    printf '{\n\tadmin off\n\tauto_https off\n}\n'
    sed -e "s#unix//run/durin/durin.sock#unix/$state/durin.sock#g" \
        -e "s#/etc/caddy/durin-proxy-key.caddy#$state/caddy/durin-proxy-key.caddy#g" \
        -e "s#^example.com {#http://:$caddy_port {#" \
        -e "s#127.0.0.1:8000#127.0.0.1:$upstream_port#g" "$root/caddy/Caddyfile.example"
} > "$state/caddy/Caddyfile"
caddy validate --config "$state/caddy/Caddyfile" --adapter caddyfile >"$state/caddy/validate.log" 2>&1 ||
    { cat "$state/caddy/validate.log" >&2; exit 1; }

: > "$state/upstream.log"
python3 "$root/Tests/caddy/upstream.py" "$upstream_port" "$state/upstream.log" &
pids+=($!)
XDG_CONFIG_HOME=$state/caddy XDG_DATA_HOME=$state/caddy \
    caddy run --config "$state/caddy/Caddyfile" --adapter caddyfile >"$state/caddy/caddy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$caddy_port/" && curl -s -o /dev/null "http://127.0.0.1:$upstream_port/" && break
    sleep 0.1
done

export REDISCLI_AUTH CADDY_PORT=$caddy_port UPSTREAM_LOG=$state/upstream.log DURIN_ROOT=$root
cd "$root/Tests/caddy" && python3 -m unittest -v caddy_test 2>&1 || { tail -20 "$state/caddy/caddy.log" >&2; exit 1; }
