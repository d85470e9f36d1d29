#!/usr/bin/env bash
# CPU time per verify/: durin-fcgi against a C libfcgi responder that does one hiredis
# HMGET of the same token hash (bench/check.c), both behind the same nginx with the
# same params (durin-api.conf), measured side by side in alternating rounds. durin-fcgi
# is measured on the connections nginx keeps (as shipped) and with a new connection
# per check (fastcgi_keep_conn off, what the C reference pays); and a second
# durin-fcgi with DURIN_LAST_USED_RESOLUTION=off shows what keeping each token's
# last use costs a check (nothing but one write a token a minute). The
# figure is each process's CPU time (user + system, all threads, from
# /proc/PID/task/*/schedstat) divided by the requests it answered: it moves far less
# with the machine's noise than req/s does.
#
#   bench/cpu.sh     (release build; needs wrk, gcc, libfcgi-dev, libhiredis-dev)
#
# BENCH_BEFORE_BIN: a folder with another build's durin-fcgi (an earlier commit),
# measured in the same rounds as it was shipped then (a connection per check).
# BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_CONNECTIONS (16). Prints the medians and
# the ratios durin-fcgi / C (the goal: at most 1.0 on kept connections), and
# durin-fcgi with the last use kept / without.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-16}
out=$root/bench/out
state=$out/cpu-stack
mkdir -p "$out"

command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --package-path "$root" >/dev/null
bin=$(swift build -c release --package-path "$root" --show-bin-path)
gcc -O2 -o "$out/check" "$root/bench/check.c" -I/usr/include/hiredis -lfcgi -lhiredis -lpthread

port=${BENCH_PORT:-18490}
export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_LOG_LEVEL=warning DURIN_THREADS=8
"$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
rm -rf "$state"
"$root/scripts/devstack.sh" start >/dev/null
# libfcgi's SIGTERM handler only asks the accept loop to end, and the C responder
# waits in accept(): it gets SIGKILL.
trap 'kill -KILL ${check_pid:-0} 2>/dev/null; "$root/scripts/devstack.sh" stop >/dev/null 2>&1' EXIT

export REDISCLI_AUTH
REDISCLI_AUTH=$(cat "$state/redis-password")
export DURIN_REDIS_URL=unix://:$REDISCLI_AUTH@$state/redis.sock DURIN_SECRET_KEY=$(cat "$state/secret")
"$bin/durinctl" client add web >/dev/null
echo "x" | "$bin/durinctl" user add bench --password-stdin >/dev/null
token=$("$bin/durinctl" token issue bench web)
key=$(printf '%s\n' "$token" | "$bin/durinctl" token key)

"$out/check" "$state/check.sock" "$state/redis.sock" "$key" & check_pid=$!
DURIN_LAST_USED_RESOLUTION=off DURIN_LISTEN=$state/durin-off.sock DURIN_PROXY_KEY=$(cat "$state/proxy-key") \
    "$bin/durin-fcgi" > "$out/cpu-durin-off.log" 2>&1 & off_pid=$!
before_pid=0
if [ -n "${BENCH_BEFORE_BIN:-}" ]; then
    DURIN_LISTEN=$state/durin-before.sock DURIN_PROXY_KEY=$(cat "$state/proxy-key") \
        "$BENCH_BEFORE_BIN/durin-fcgi" > "$out/cpu-durin-before.log" 2>&1 & before_pid=$!
fi
trap 'kill -KILL ${check_pid:-0} 2>/dev/null; kill ${off_pid:-0} ${before_pid:-0} 2>/dev/null; "$root/scripts/devstack.sh" stop >/dev/null 2>&1' EXIT
for _ in $(seq 50); do
    [ -S "$state/check.sock" ] && [ -S "$state/durin-off.sock" ] && { [ "$before_pid" = 0 ] || [ -S "$state/durin-before.sock" ]; } && break
    sleep 0.1
done
chmod 666 "$state/check.sock" "$state/durin-off.sock"
[ "$before_pid" = 0 ] || chmod 666 "$state/durin-before.sock"
# The C responder (a connection per check), durin-fcgi without kept connections, and
# durin-fcgi without last use (kept), behind the same kind of location as durin's API.
. "$root/bench/locations.sh"
bench_location check "$state/check.sock" new
bench_location durin-new "$state/durin.sock" new
bench_location durin-off "$state/durin-off.sock" kept
[ "$before_pid" = 0 ] || bench_location durin-before "$state/durin-before.sock" new
nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -s reload
# Ready when the old workers (without /check/) are gone: 50 answers of 200 in a row.
ok=0
for _ in $(seq 2000); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $token" "http://127.0.0.1:$port/check/verify/")" = 200 ] &&
       [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $token" "http://127.0.0.1:$port/durin-off/verify/")" = 200 ] &&
       [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Token $token" "http://127.0.0.1:$port/durin-new/verify/")" = 200 ]; then
        ok=$((ok + 1)); [ "$ok" -ge 50 ] && break
    else
        ok=0; sleep 0.05
    fi
done
[ "$ok" -ge 50 ] || { echo "bench: /check/verify/ never answered 200 steadily" >&2; exit 1; }

# CPU time of every thread of a process, in nanoseconds.
cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f"))); done; echo "$t"; }

# Context switches of every thread of a process (voluntary and not).
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n }'; }

# CPU time of nginx's workers together, in nanoseconds.
nginx_ns() {
    local t=0 p
    for p in $(pgrep -P "$(cat "$state/nginx/nginx.pid")"); do t=$((t + $(cpu_ns "$p"))); done
    echo "$t"
}

# One round against URL, charged to PID: prints "ns_per_request requests
# switches_per_100 nginx_ns_per_request".
round() {
    local pid=$1 url=$2 before after requests s0 s1 n0 n1
    before=$(cpu_ns "$pid")
    s0=$(switches "$pid")
    n0=$(nginx_ns)
    wrk -t2 -c"$conns" -d"${seconds}s" -H "Authorization: Token $token" "$url" > "$out/cpu-wrk.txt" 2>&1
    after=$(cpu_ns "$pid")
    s1=$(switches "$pid")
    n1=$(nginx_ns)
    requests=$(awk '/requests in/ {print $1}' "$out/cpu-wrk.txt")
    grep -q 'Non-2xx' "$out/cpu-wrk.txt" && { echo "bench: non-2xx answers from $url" >&2; cat "$out/cpu-wrk.txt" >&2; exit 1; }
    echo "$(( (after - before) / requests )) $requests $(( (s1 - s0) * 100 / requests )) $(( (n1 - n0) / requests ))"
}

durin_pid=$(cat "$state/durin.pid")
declare -a durin_runs=() c_runs=() off_runs=() new_runs=() before_runs=()
for r in $(seq "$rounds"); do
    c_runs+=("$(round "$check_pid" "http://127.0.0.1:$port/check/verify/")")
    durin_runs+=("$(round "$durin_pid" "http://127.0.0.1:$port/api/auth/verify/")")
    new_runs+=("$(round "$durin_pid" "http://127.0.0.1:$port/durin-new/verify/")")
    off_runs+=("$(round "$off_pid" "http://127.0.0.1:$port/durin-off/verify/")")
    [ "$before_pid" = 0 ] || before_runs+=("$(round "$before_pid" "http://127.0.0.1:$port/durin-before/verify/")")
    field() { echo "$1" | cut -d' ' -f"$2"; }
    echo "  round $r (context switches per 100 requests): C $(field "${c_runs[-1]}" 3), durin-fcgi kept $(field "${durin_runs[-1]}" 3), new connections $(field "${new_runs[-1]}" 3), without last use $(field "${off_runs[-1]}" 3)${before_runs:+, before $(field "${before_runs[-1]}" 3)}" >&2
    echo "  round $r (nginx's CPU per request, ns): C $(field "${c_runs[-1]}" 4), durin-fcgi kept $(field "${durin_runs[-1]}" 4), new connections $(field "${new_runs[-1]}" 4)" >&2
    echo "  round $r: C ${c_runs[-1]%% *} ns, durin-fcgi kept ${durin_runs[-1]%% *} ns, new connections ${new_runs[-1]%% *} ns, without last use ${off_runs[-1]%% *} ns${before_runs:+, before ${before_runs[-1]%% *} ns} per request" >&2
done
median() { printf '%s\n' "$@" | cut -d' ' -f1 | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
c=$(median "${c_runs[@]}")
d=$(median "${durin_runs[@]}")
o=$(median "${off_runs[@]}")
n=$(median "${new_runs[@]}")
reqs() { printf '%s\n' "$@" | cut -d' ' -f2 | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
ngx() { printf '%s\n' "$@" | cut -d' ' -f4 | sort -n | sed -n "$(( ($# + 1) / 2 ))p" | awk '{ printf "%.1f µs", $1 / 1000 }'; }
printf '\n| responder | CPU per verify/ (median of %s rounds of %s s) | nginx'"'"'s CPU per request | requests per round (median) |\n|---|---:|---:|---:|\n' "$rounds" "$seconds"
printf '| C libfcgi + one hiredis HMGET (bench/check.c), a connection per check | %.1f µs | %s | %s |\n' "$(echo "$c / 1000" | bc -l)" "$(ngx "${c_runs[@]}")" "$(reqs "${c_runs[@]}")"
printf '| durin-fcgi, kept connections (as shipped) | %.1f µs | %s | %s |\n' "$(echo "$d / 1000" | bc -l)" "$(ngx "${durin_runs[@]}")" "$(reqs "${durin_runs[@]}")"
printf '| durin-fcgi, a connection per check | %.1f µs | %s | %s |\n' "$(echo "$n / 1000" | bc -l)" "$(ngx "${new_runs[@]}")" "$(reqs "${new_runs[@]}")"
printf '| durin-fcgi, kept, DURIN_LAST_USED_RESOLUTION=off | %.1f µs | %s | %s |\n' "$(echo "$o / 1000" | bc -l)" "$(ngx "${off_runs[@]}")" "$(reqs "${off_runs[@]}")"
if [ "$before_pid" != 0 ]; then
    b=$(median "${before_runs[@]}")
    printf '| durin-fcgi before (%s), a connection per check | %.1f µs | %s | %s |\n' "$BENCH_BEFORE_BIN" "$(echo "$b / 1000" | bc -l)" "$(ngx "${before_runs[@]}")" "$(reqs "${before_runs[@]}")"
fi
printf '\ndurin-fcgi / C: %.2f kept (goal: at most 1.0), %.2f with a connection per check\n' "$(echo "$d / $c" | bc -l)" "$(echo "$n / $c" | bc -l)"
printf 'last use kept / not kept: %.2f\n' "$(echo "$d / $o" | bc -l)"
