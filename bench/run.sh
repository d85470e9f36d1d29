#!/usr/bin/env bash
# Benchmarks durin-fcgi through nginx with wrk, against ceilings measured in the
# same run: nginx answering 204 by itself; nginx -> a minimal C libfcgi responder
# (bench/check.c with a socket only: it answers 204); the same C responder doing one
# hiredis HMGET of the token hash (what verify/ must do at the least); and
# /api/ping/'s shape (auth_request, then proxy_pass to the demo app) with the C
# responder answering the check with 204. The C responders get a connection per
# request (fastcgi_keep_conn off), all a stock libfcgi thread can serve.
#
#   bench/run.sh            (release build; needs wrk, gcc, libfcgi-dev)
#
# BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (32), BENCH_ITERATIONS
# (PBKDF2 iterations of the login run, 1000000) adjust it. Prints one table row per
# target: median req/s, median p99, and the ratio to each ceiling.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-32}
iterations=${BENCH_ITERATIONS:-1000000}
out=$root/bench/out
state=$out/stack
mkdir -p "$out"

command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --package-path "$root" >/dev/null
bin=$(swift build -c release --package-path "$root" --show-bin-path)
gcc -O2 -o "$out/ceiling" "$root/bench/check.c" -I/usr/include/hiredis -lfcgi -lhiredis -lpthread

port=${BENCH_PORT:-18480}
export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_PASSWORD_ITERATIONS=$iterations
# The login run measures hashing: no login limits (32 concurrent logins of one name
# would otherwise be refused past DURIN_LOGIN_FAILURE_RATE, counted before hashing).
export DURIN_LOG_LEVEL=warning DURIN_THROTTLE_RATE=100000000/s DURIN_LOGIN_RATE_PER_ADDRESS=off DURIN_LOGIN_FAILURE_RATE=off
"$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
rm -rf "$state"
"$root/scripts/devstack.sh" start >/dev/null
"$out/ceiling" "$state/ceiling.sock" & ceiling_pid=$!
hmget_pid=0
# libfcgi's SIGTERM handler only asks the accept loop to end: the C responders get SIGKILL.
trap 'kill -KILL $ceiling_pid $hmget_pid 2>/dev/null; kill ${silent_pid:-0} 2>/dev/null; "$root/scripts/devstack.sh" stop >/dev/null 2>&1' EXIT

# The login runs measure durin's hashers, not nginx's login rate limit: lift it.
sed -i -e '/^ *limit_req /d' "$state/nginx/site.conf"

ctl() { DURIN_REDIS_URL=unix://:$(cat "$state/redis-password")@$state/redis.sock DURIN_SECRET_KEY=$(cat "$state/secret") "$bin/durinctl" "$@"; }
ctl client add web >/dev/null
ctl client add bench --ttl 7d >/dev/null
echo "bench-password" | ctl user add bench --password-stdin >/dev/null
token=$(ctl token issue bench web)
base=http://127.0.0.1:$port
REDISCLI_AUTH=$(cat "$state/redis-password") "$out/ceiling" "$state/hmget.sock" "$state/redis.sock" \
    "$(printf '%s\n' "$token" | ctl token key)" & hmget_pid=$!

# The ceilings, in the same nginx: one more server block, then a reload.
cat >> "$state/nginx/site.conf" <<CONF
server {
    listen 127.0.0.1:$((port + 1));
    location = /ceiling/nginx { return 204; }
    location = /ceiling/fcgi {
        fastcgi_param REQUEST_METHOD \$request_method;
        fastcgi_pass unix:$state/ceiling.sock;
    }
    location = /ceiling/hmget {
        fastcgi_param REQUEST_METHOD \$request_method;
        fastcgi_pass unix:$state/hmget.sock;
    }
    # /api/ping/'s shape: the check answered 204 by the C responder.
    location = /ceiling/ping {
        auth_request /ceiling/check;
        proxy_pass http://durin_demo_app;
    }
    location = /ceiling/check {
        internal;
        fastcgi_pass_request_body off;
        fastcgi_param REQUEST_METHOD GET;
        fastcgi_pass unix:$state/ceiling.sock;
    }
}
CONF
for _ in $(seq 50); do [ -S "$state/ceiling.sock" ] && [ -S "$state/hmget.sock" ] && break; sleep 0.1; done
chmod 666 "$state/ceiling.sock" "$state/hmget.sock"
nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -s reload
sleep 0.5

cat > "$out/post.lua" <<'LUA'
wrk.method = "POST"
LUA
cat > "$out/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"bench-password","client":"web"}'
LUA

# One wrk round: prints "req/s p99_ms non2xx".
round() {
    local url=$1; shift
    wrk -t2 -c"$conns" -d"${seconds}s" --latency "$@" "$url" > "$out/wrk.txt" 2>&1
    python3 - "$out/wrk.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", t)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)] if m else float("nan")
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p99:.2f} {bad.group(1) if bad else 0}")
PY
}

# Median of several rounds.
measure() {
    local i rows=()
    for i in $(seq "$rounds"); do rows+=("$(round "$@")"); done
    printf '%s\n' "${rows[@]}" | sort -n -k1 | sed -n "$(( (rounds + 1) / 2 ))p"
}

declare -A result
run() { local name=$1; shift; result[$name]=$(measure "$@"); echo "  measured $name: ${result[$name]}" >&2; }

echo "wrk: $conns connections, ${seconds}s x $rounds rounds (medians); login at $iterations PBKDF2 iterations" >&2
run "ceiling: nginx return 204" "http://127.0.0.1:$((port + 1))/ceiling/nginx"
run "ceiling: nginx -> C libfcgi 204" "http://127.0.0.1:$((port + 1))/ceiling/fcgi"
run "ceiling: nginx -> C libfcgi HMGET" "http://127.0.0.1:$((port + 1))/ceiling/hmget" -H "Authorization: Token $token"
run "ceiling: auth_request (C 204) + proxy_pass" "http://127.0.0.1:$((port + 1))/ceiling/ping"
run "GET verify/" "$base/api/auth/verify/" -H "Authorization: Token $token"
run "GET /api/ping/ (auth_request)" "$base/api/ping/" -H "Authorization: Token $token"
run "GET /api/ping/cached/ (cache on)" "$base/api/ping/cached/" -H "Authorization: Token $token"
run "GET /api/throttled/ (throttle on)" "$base/api/throttled/" -H "Authorization: Token $token"
run "POST refresh/" "$base/api/auth/refresh/" -H "Authorization: Token $token" -s "$out/post.lua"
run "GET verify/ no token (401)" "$base/api/auth/verify/"
run "POST login/" "$base/api/auth/login/" -s "$out/login.lua" --timeout 30s
rss_before_flood=$(awk '/VmHWM/ {print $2}' "/proc/$(cat "$state/durin.pid")/status")

# The cost of the metrics: verify/ with counting off, then on again, back to back.
"$root/scripts/devstack.sh" durin-stop >/dev/null
DURIN_METRICS=off "$root/scripts/devstack.sh" durin-start >/dev/null
run "GET verify/ (metrics off)" "$base/api/auth/verify/" -H "Authorization: Token $token"
"$root/scripts/devstack.sh" durin-stop >/dev/null
"$root/scripts/devstack.sh" durin-start >/dev/null
run "GET verify/ (metrics on)" "$base/api/auth/verify/" -H "Authorization: Token $token"

# verify/ while 8 connections send the worst JSON body at the size limit (a
# 1 MB object of distinct keys: the duplicate-key check must stay linear).
python3 - "$out/hostile.json" <<'PY'
import sys
parts, size, i = [], 2, 0
while size < 1_000_000 - 64:
    p = f'"k{i}":0'; parts.append(p); size += len(p) + 1; i += 1
open(sys.argv[1], "w").write("{" + ",".join(parts) + "}")
PY
cat > "$out/hostile.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$out/hostile.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA
wrk -t1 -c8 -d"$((seconds * rounds + 5))s" -s "$out/hostile.lua" "$base/api/auth/login/" > "$out/hostile.txt" 2>&1 & hostile_pid=$!
sleep 2
run "GET verify/ during 8 worst-case bodies" "$base/api/auth/verify/" -H "Authorization: Token $token"
wait $hostile_pid || true

# verify/ while 64 connections to durin-fcgi's socket, without the proxy key, send
# nothing (a local process squatting): they wait in the epoll set, under the
# unproven budget, and hold no worker.
python3 - "$state/durin.sock" <<'PY' & silent_pid=$!
import socket, sys, time
held = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
time.sleep(3600)
PY
sleep 1
run "GET verify/ beside 64 silent connections" "$base/api/auth/verify/" -H "Authorization: Token $token"
kill $silent_pid 2>/dev/null || true

# verify/ while 64 concurrent logins hammer the service (wrong passwords, so
# every one costs a full hash; the failed-login limit is off for this run).
"$root/scripts/devstack.sh" durin-stop >/dev/null
DURIN_LOGIN_FAILURE_RATE=off "$root/scripts/devstack.sh" durin-start >/dev/null
cat > "$out/badlogin.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"wrong","client":"web"}'
LUA
wrk -t1 -c64 -d"$((seconds * rounds + 5))s" -s "$out/badlogin.lua" "$base/api/auth/login/" > "$out/flood.txt" 2>&1 & flood_pid=$!
sleep 2
run "GET verify/ during 64 logins" "$base/api/auth/verify/" -H "Authorization: Token $token"
wait $flood_pid || true

rss_kb=$rss_before_flood
nginx_ceiling=$(echo "${result["ceiling: nginx return 204"]}" | cut -d' ' -f1)
fcgi_ceiling=$(echo "${result["ceiling: nginx -> C libfcgi 204"]}" | cut -d' ' -f1)

printf '\n| target | req/s | p99 ms | non-2xx | vs nginx 204 | vs C libfcgi |\n|---|---:|---:|---:|---:|---:|\n'
for name in "ceiling: nginx return 204" "ceiling: nginx -> C libfcgi 204" "ceiling: nginx -> C libfcgi HMGET" \
            "ceiling: auth_request (C 204) + proxy_pass" "GET verify/" "GET /api/ping/ (auth_request)" \
            "GET /api/ping/cached/ (cache on)" "GET /api/throttled/ (throttle on)" "POST refresh/" \
            "GET verify/ no token (401)" "POST login/" "GET verify/ (metrics off)" "GET verify/ (metrics on)" \
            "GET verify/ during 8 worst-case bodies" "GET verify/ beside 64 silent connections" "GET verify/ during 64 logins"; do
    read -r rps p99 bad <<<"${result[$name]}"
    printf '| %s | %s | %s | %s | %.0f%% | %.0f%% |\n' "$name" "$rps" "$p99" "$bad" \
        "$(echo "100 * $rps / $nginx_ceiling" | bc -l)" "$(echo "100 * $rps / $fcgi_ceiling" | bc -l)"
done
printf '\ndurin-fcgi peak RSS: %s MiB (%s threads, after every run but the login flood)\n' \
    "$(echo "scale=1; $rss_kb / 1024" | bc)" "${DURIN_THREADS:-8}"
off=$(echo "${result["GET verify/ (metrics off)"]}" | cut -d' ' -f1)
on=$(echo "${result["GET verify/ (metrics on)"]}" | cut -d' ' -f1)
printf 'verify/ with metrics on: %.1f%% of the req/s with metrics off\n' "$(echo "100 * $on / $off" | bc -l)"
unloaded=$(echo "${result["GET verify/"]}" | cut -d' ' -f2)
loaded=$(echo "${result["GET verify/ during 64 logins"]}" | cut -d' ' -f2)
printf 'verify/ p99 during the login flood: %s ms, %.2fx the unloaded %s ms\n' "$loaded" "$(echo "$loaded / $unloaded" | bc -l)" "$unloaded"
hmget=$(echo "${result["ceiling: nginx -> C libfcgi HMGET"]}" | cut -d' ' -f1)
verify=$(echo "${result["GET verify/"]}" | cut -d' ' -f1)
printf 'verify/ req/s: %.2fx the C libfcgi + HMGET reference (goal: at least 1.0)\n' "$(echo "$verify / $hmget" | bc -l)"
shape=$(echo "${result["ceiling: auth_request (C 204) + proxy_pass"]}" | cut -d' ' -f1)
ping=$(echo "${result["GET /api/ping/ (auth_request)"]}" | cut -d' ' -f1)
printf '/api/ping/ req/s: %.2fx the same shape with the C responder answering 204 (goal: at least 0.9)\n' "$(echo "$ping / $shape" | bc -l)"
silent=$(echo "${result["GET verify/ beside 64 silent connections"]}" | cut -d' ' -f2)
printf 'verify/ p99 beside 64 silent connections: %s ms, %.2fx the unloaded %s ms\n' "$silent" "$(echo "$silent / $unloaded" | bc -l)" "$unloaded"
hostile=$(echo "${result["GET verify/ during 8 worst-case bodies"]}" | cut -d' ' -f2)
printf 'verify/ p99 during 8 worst-case bodies: %s ms, %.2fx the unloaded %s ms (%s bodies answered)\n' "$hostile" \
    "$(echo "$hostile / $unloaded" | bc -l)" "$unloaded" "$(awk '/requests in/ {print $1}' "$out/hostile.txt")"
