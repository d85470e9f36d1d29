#!/usr/bin/env bash
# Identity assertions verified by a real verifier (`make test-assertion`, part of
# `make test`): PyJWT from PyPI (pinned, in a venv of its own) in an upstream behind
# nginx (upstream.py), against a stack of its own (scripts/devstack.sh) with a server
# beside the example site whose locations set $durin_assertion on.
#
#   Tests/assertion/run.sh      (needs python3-venv; a debug build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=$root/.build/assertion-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import jwt, cryptography' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'PyJWT[crypto]==2.10.1'
fi

. "$root/Tests/lib/stack.sh"
# Short lives, so that expiry and a rotated key's leaving happen within the test.
export DURIN_ASSERTION_TTL=20s DURIN_ASSERTION_ISSUER=https://auth.example DURIN_ASSERTION_FIELDS=email
# The test logs in often from one address.
export DURIN_LOGIN_RATE_PER_ADDRESS=off
site_port=$(free_port) upstream_port=$(free_port)
pids=()
stop_own() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
start_stack
ctl client add web >/dev/null
printf '%s\n' 'alice-pw' | ctl user add alice --password-stdin --field email=alice@example.com >/dev/null
printf '%s\n' 'ada-pw' | ctl user add ada --password-stdin --staff >/dev/null

# The verifier's server: the shipped snippets, two audiences, one upstream that
# accepts only https://reports.example.
n=$state/nginx
cat > "$n/extra/assertion.conf" <<CONF
server {
    listen 127.0.0.1:$site_port;
    server_name reports.test;
    include $n/durin/durin-server.conf;
    location /reports/ {
        set \$durin_assertion on;
        set \$durin_assertion_audience "https://reports.example";
        include $n/durin/durin-protect.conf;
        proxy_pass http://127.0.0.1:$upstream_port;
    }
    # No audience named: the server's own, whatever Host the client sends.
    location /default/ {
        set \$durin_assertion on;
        include $n/durin/durin-protect.conf;
        proxy_pass http://127.0.0.1:$upstream_port;
    }
    location /elsewhere/ {
        set \$durin_assertion on;
        set \$durin_assertion_audience "https://elsewhere.example";
        include $n/durin/durin-protect.conf;
        proxy_pass http://127.0.0.1:$upstream_port;
    }
}
CONF
"$venv/bin/python" "$root/Tests/assertion/upstream.py" "$upstream_port" "http://127.0.0.1:$port/api/auth/jwks.json" &
pids+=($!)
nginx -p "$n" -c "$n/nginx.conf" -s reload
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$upstream_port/" && curl -s -o /dev/null "http://127.0.0.1:$site_port/" && break
    sleep 0.1
done

export SITE_PORT=$site_port API_PORT=$port DURIN_ROOT=$root
export DURINCTL="$bin/durinctl" CTL_REDIS_URL="unix://:$REDISCLI_AUTH@$state/redis.sock" CTL_SECRET=$(cat "$state/secret")
cd "$root/Tests/assertion" && "$venv/bin/python" -m unittest -v assertion_test 2>&1
