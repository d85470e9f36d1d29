#!/usr/bin/env bash
# The cost of one verify/ that noise cannot move: user-space instructions per check
# (valgrind --tool=callgrind, the same count whatever else the machine does) and
# system calls per check (strace -c), for durin-fcgi and for the C reference
# (bench/check.c: libfcgi plus one hiredis HMGET of the same token hash), both
# behind the same nginx with the same params (durin-api.conf). durin-fcgi is counted
# on the connections nginx keeps (as shipped) and with a new connection per check;
# the C reference always gets a new one (fastcgi_keep_conn off: a stock libfcgi
# thread would otherwise wait on its connection between two requests).
#
#   bench/instructions.sh     (release build; needs valgrind, strace, gcc, binutils, libfcgi-dev, libhiredis-dev)
#
# Each responder answers BENCH_WARMUP (200) checks first, then its counters are zeroed
# (callgrind_control --zero) and BENCH_REQUESTS (2000) more are counted: start-up and
# first-use costs are left out. System calls are counted on a second pair of
# processes, without valgrind, with strace attached to every thread for the same
# number of checks. The client is one keep-alive HTTP connection to nginx, so each
# figure is the responder's own. Output: a table, and each responder's most costly
# functions (callgrind_annotate) in bench/out/instructions-*.txt.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
warmup=${BENCH_WARMUP:-200}
requests=${BENCH_REQUESTS:-2000}
out=$root/bench/out
state=$out/instructions-stack
mkdir -p "$out"

for tool in valgrind callgrind_control callgrind_annotate strace gcc objcopy; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install valgrind strace gcc binutils)" >&2; exit 1; }
done
swift build -c release --package-path "$root" >/dev/null
bin=$(swift build -c release --package-path "$root" --show-bin-path)
gcc -O2 -o "$out/check" "$root/bench/check.c" -I/usr/include/hiredis -lfcgi -lhiredis -lpthread
# Valgrind 3.19 cannot read the DWARF 5 that Swift 6 writes: a copy without debug
# information still has every function's symbol, which is what the counts need.
objcopy --strip-debug "$bin/durin-fcgi" "$out/durin-fcgi.nodebug"

port=${BENCH_PORT:-18491}
export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_LOG_LEVEL=warning DURIN_THREADS=8
"$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
rm -rf "$state"
"$root/scripts/devstack.sh" start >/dev/null
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    "$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

export REDISCLI_AUTH
REDISCLI_AUTH=$(cat "$state/redis-password")
export DURIN_REDIS_URL=unix://:$REDISCLI_AUTH@$state/redis.sock DURIN_SECRET_KEY=$(cat "$state/secret")
"$bin/durinctl" client add web >/dev/null
echo "x" | "$bin/durinctl" user add bench --password-stdin >/dev/null
token=$("$bin/durinctl" token issue bench web)
key=$(printf '%s\n' "$token" | "$bin/durinctl" token key)
proxy_key=$(cat "$state/proxy-key")

# Four responders, each on its own socket and location: durin-fcgi and the C
# reference under callgrind (instructions), and both plain (system calls).
cg=(valgrind --tool=callgrind --trace-children=no)
DURIN_LISTEN=$state/durin-cg.sock DURIN_PROXY_KEY=$proxy_key \
    "${cg[@]}" --callgrind-out-file="$out/callgrind.durin" "$out/durin-fcgi.nodebug" >"$out/instructions-durin-cg.log" 2>&1 &
pids+=($!); durin_cg=$!
"${cg[@]}" --callgrind-out-file="$out/callgrind.check" "$out/check" "$state/check-cg.sock" "$state/redis.sock" "$key" \
    >"$out/instructions-check-cg.log" 2>&1 &
pids+=($!); check_cg=$!
DURIN_LISTEN=$state/durin-sc.sock DURIN_PROXY_KEY=$proxy_key "$bin/durin-fcgi" >"$out/instructions-durin-sc.log" 2>&1 &
pids+=($!); durin_sc=$!
"$out/check" "$state/check-sc.sock" "$state/redis.sock" "$key" >/dev/null 2>&1 &
pids+=($!); check_sc=$!

for _ in $(seq 600); do
    all=yes
    for s in durin-cg check-cg durin-sc check-sc; do [ -S "$state/$s.sock" ] || all=no; done
    [ "$all" = yes ] && break
    sleep 0.1
done
. "$root/bench/locations.sh"
for s in durin-cg check-cg durin-sc check-sc; do
    [ -S "$state/$s.sock" ] || { echo "bench: $s did not listen" >&2; exit 1; }
    chmod 666 "$state/$s.sock"
done
bench_location durin-cg "$state/durin-cg.sock" kept
bench_location durin-cg-new "$state/durin-cg.sock" new
bench_location check-cg "$state/check-cg.sock" new
bench_location durin-sc "$state/durin-sc.sock" kept
bench_location durin-sc-new "$state/durin-sc.sock" new
bench_location check-sc "$state/check-sc.sock" new
nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -s reload

# N checks of /LOCATION/verify/ on one keep-alive connection to nginx; fails on
# anything but 200 (an old nginx worker without the location answers 404: retried).
load() {
    python3 - "$port" "$1" "$token" "$2" <<'PY'
import http.client, sys, time
port, location, token, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
done, deadline = 0, time.time() + 300
while done < n:
    conn.request("GET", f"/{location}/verify/", headers={"Authorization": f"Token {token}"})
    r = conn.getresponse()
    r.read()
    if r.status == 200:
        done += 1
    elif time.time() > deadline:
        sys.exit(f"/{location}/verify/ answered {r.status}")
    else:
        time.sleep(0.05)
PY
}

# Instructions per check: the counters zeroed after the warm-up, dumped after the load.
instructions() {
    local location=$1 pid=$2 file=$3
    load "$location" "$warmup"
    callgrind_control --zero "$pid" >/dev/null
    load "$location" "$requests"
    callgrind_control --dump="counted" "$pid" >/dev/null
    # The newest dump of this process (callgrind names it FILE.N, or FILE-THREAD.N per thread
    # with --separate-threads; one file here).
    local dump
    dump=$(ls -t "$file".* 2>/dev/null | head -n 1)
    [ -n "$dump" ] || { echo "bench: no callgrind dump for $location" >&2; exit 1; }
    local total
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    "$root/bench/callgrind-self.py" "$dump" "$requests" 40 >"$out/instructions-$location.txt"
    echo $((total / requests))
}

# System calls per check, every thread of the process, during the load only.
syscalls() {
    local location=$1 pid=$2
    load "$location" "$warmup"
    strace -c -f -p "$pid" -o "$out/strace-$location.txt" 2>/dev/null & local tracer=$!
    sleep 1  # strace attaches to every thread before the load starts
    load "$location" "$requests"
    kill -INT "$tracer"
    wait "$tracer" 2>/dev/null || true
    local calls
    # strace -c's last line: "100.00  seconds  usecs/call  calls  [errors]  total".
    calls=$(awk '$NF == "total" { print $4 }' "$out/strace-$location.txt")
    awk -v c="$calls" -v n="$requests" 'BEGIN { printf "%.1f", c / n }'
}

durin_ir=$(instructions durin-cg "$durin_cg" "$out/callgrind.durin")
new_ir=$(instructions durin-cg-new "$durin_cg" "$out/callgrind.durin")
check_ir=$(instructions check-cg "$check_cg" "$out/callgrind.check")
durin_sys=$(syscalls durin-sc "$durin_sc")
new_sys=$(syscalls durin-sc-new "$durin_sc")
check_sys=$(syscalls check-sc "$check_sc")

printf '\nper verify/, %s checks after %s of warm-up, one keep-alive client through nginx\n\n' "$requests" "$warmup"
printf '| measure | durin-fcgi, kept connection | durin-fcgi, a connection per check | C libfcgi reference, a connection per check | ratio kept / C |\n|---|---:|---:|---:|---:|\n'
awk -v d="$durin_ir" -v n="$new_ir" -v c="$check_ir" 'BEGIN { printf "| user-space instructions (callgrind) | %d | %d | %d | %.2f |\n", d, n, c, d / c }'
awk -v d="$durin_sys" -v n="$new_sys" -v c="$check_sys" 'BEGIN { printf "| system calls (strace -c) | %.1f | %.1f | %.1f | %.2f |\n", d, n, c, d / c }'
printf '\nmost costly functions: %s/instructions-{durin-cg,durin-cg-new,check-cg}.txt\n' "$out"
printf 'system calls by name: %s/strace-{durin-sc,durin-sc-new,check-sc}.txt\n' "$out"
