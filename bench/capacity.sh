#!/usr/bin/env bash
# The measurements behind docs/capacity.md, on the real stack (release build, nginx,
# durin-fcgi, one redis-server on a unix socket):
#
#   - CPU time per token check in durin-fcgi, redis-server and nginx, during a wrk run
#     of verify/ and of a throttled location (read from /proc before and after);
#   - redis-server's own rate for the check's single HMGET (redis-benchmark, one core);
#   - CPU time per login in durin-fcgi (PBKDF2 at DURIN_PASSWORD_ITERATIONS, 1,000,000).
#
# Costs are CPU seconds per operation, which hold on a machine that is busy with other
# things too (here wrk, nginx, Redis and durin-fcgi share two cores): a process that
# has one core to itself answers 1/cost operations a second.
#
#   bench/capacity.sh      (needs wrk, redis-benchmark; BENCH_SECONDS, 10 by default)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${BENCH_SECONDS:-10}
out=$root/bench/out
state=$out/capacity
port=${BENCH_PORT:-18490}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --package-path "$root" >/dev/null
bin=$(swift build -c release --package-path "$root" --show-bin-path)

export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_LOG_LEVEL=warning
export DURIN_LOGIN_RATE_PER_ADDRESS=off DURIN_LOGIN_FAILURE_RATE=off DURIN_THROTTLE_RATE=100000000/s
"$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
rm -rf "$state"
"$root/scripts/devstack.sh" start >/dev/null
trap '"$root/scripts/devstack.sh" stop >/dev/null 2>&1' EXIT
sed -i -e '/^ *limit_req /d' "$state/nginx/site.conf"
nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -s reload
sleep 0.5

sock=$state/redis.sock
export DURIN_REDIS_URL=unix://:$(cat "$state/redis-password")@$sock DURIN_SECRET_KEY=$(cat "$state/secret")
base=http://127.0.0.1:$port

# A client and a user with one token (memory per user and token: bench/memory.sh).
"$bin/durinctl" client add web --ttl 1d >/dev/null
echo "x" | "$bin/durinctl" user add user00001 --password-stdin >/dev/null

# CPU time (clock ticks) of a set of pids.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
hz=$(getconf CLK_TCK)
durin_pid=$(cat "$state/durin.pid")
redis_pid=$(cat "$state/redis.pid")
nginx_master=$(cat "$state/nginx/nginx.pid")
nginx_pids() { echo "$nginx_master" $(pgrep -P "$nginx_master"); }

# One measured wrk run: prints "requests durin_s redis_s nginx_s".
measure() {
    local d0 r0 n0 d1 r1 n1 requests
    d0=$(ticks "$durin_pid"); r0=$(ticks "$redis_pid"); n0=$(ticks $(nginx_pids))
    wrk -t2 -c"${CONNECTIONS:-32}" -d"${seconds}s" "$@" > "$out/capacity-wrk.txt" 2>&1
    d1=$(ticks "$durin_pid"); r1=$(ticks "$redis_pid"); n1=$(ticks $(nginx_pids))
    requests=$(awk '/requests in/ {print $1}' "$out/capacity-wrk.txt")
    bad=$(awk '/Non-2xx/ {print $NF}' "$out/capacity-wrk.txt")
    [ -z "$bad" ] || { echo "bench: $bad answers were not 2xx" >&2; cat "$out/capacity-wrk.txt" >&2; exit 1; }
    echo "$requests $(echo "($d1 - $d0) / $hz" | bc -l) $(echo "($r1 - $r0) / $hz" | bc -l) $(echo "($n1 - $n0) / $hz" | bc -l)"
}

token=$("$bin/durinctl" token issue user00001 web)
read -r vreq vd vr vn <<<"$(measure "$base/api/auth/verify/" -H "Authorization: Token $token")"
read -r treq td tr tn <<<"$(measure "$base/api/throttled/" -H "Authorization: Token $token")"
cat > "$out/capacity-login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"user00001","password":"x","client":"web"}'
LUA
read -r lreq ld lr ln <<<"$(CONNECTIONS=4 measure "$base/api/auth/login/" -s "$out/capacity-login.lua" --timeout 30s)"

# redis-server alone: the uncached check is one HMGET of the token hash.
key=$(echo "$token" | "$bin/durinctl" token key)
# redis-benchmark takes a password only as an argument (ps shows it): it logs in as a
# throw-away user that needs none and may run HMGET on token hashes only.
REDISCLI_AUTH=$(cat "$state/redis-password") redis-cli -s "$sock" ACL SETUSER bench on nopass '~durin:t:*' -@all +hmget >/dev/null
hmget=$(redis-benchmark -s "$sock" --user bench -a none -n 500000 -c 32 -q HMGET "$key" u c t e i s x 2>/dev/null | tail -1 | \
    sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p')

per() { echo "$1 / $2" | bc -l; }
printf '\nbench/capacity.sh (redis %s, %s CPU cores, %s s runs)\n\n' \
    "$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')" "$(nproc)" "$seconds"
printf '| measure | value |\n|---|---:|\n'
printf '| verify/: requests in the run | %d |\n' "$vreq"
printf '| verify/: checks per durin-fcgi CPU second | %.0f |\n' "$(per "$vreq" "$vd")"
printf '| verify/: checks per redis-server CPU second | %.0f |\n' "$(per "$vreq" "$vr")"
printf '| verify/: checks per nginx CPU second | %.0f |\n' "$(per "$vreq" "$vn")"
printf '| throttled location: checks per durin-fcgi CPU second | %.0f |\n' "$(per "$treq" "$td")"
printf '| throttled location: checks per redis-server CPU second | %.0f |\n' "$(per "$treq" "$tr")"
printf '| throttled location: checks per nginx CPU second (auth_request + proxy) | %.0f |\n' "$(per "$treq" "$tn")"
printf '| redis-benchmark HMGET of a token hash (one redis-server core) | %.0f/s |\n' "$hmget"
printf '| login/: logins per durin-fcgi CPU second (PBKDF2 %s) | %.2f |\n' "${DURIN_PASSWORD_ITERATIONS:-1000000}" "$(per "$lreq" "$ld")"
