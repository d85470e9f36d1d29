#!/usr/bin/env bash
# Redis memory per live token: 2,000 users with one token each, issued the way login
# issues them (durinctl token issue runs the same script), in a redis-server of its
# own; then the same with session details (a browser's user agent, an address and a
# label, as a login from a browser stores them). Counts every key a token adds (its
# hash and its index entry in the user hash); the bounded event stream is turned off
# (DURIN_EVENTS_MAXLEN=0) so it is not counted.
#
#   bench/memory.sh          (builds durinctl in release mode; needs redis-server)
#
# BENCH_USERS (2000) sets the number of users; BENCH_REDIS_ARGS passes settings to
# redis-server (`BENCH_REDIS_ARGS="--hash-max-listpack-value 128"`: the compact user hash
# that redis/durin-redis.conf sets). It also prints what each user record costs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
users=${BENCH_USERS:-2000}
swift build --package-path "$root" -c release --product durinctl >/dev/null
ctl=$(swift build --package-path "$root" -c release --show-bin-path)/durinctl

state=$(mktemp -d /tmp/durin-memory.XXXXXX)
cleanup() { redis-cli -s "$state/redis.sock" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT
redis-server --port 0 --unixsocket "$state/redis.sock" --unixsocketperm 700 --save '' --appendonly no \
    --daemonize yes --logfile "$state/redis.log" --dir "$state" ${BENCH_REDIS_ARGS:-}
for _ in $(seq 100); do redis-cli -s "$state/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done

export DURIN_REDIS_URL="unix://$state/redis.sock" DURIN_EVENTS_MAXLEN=0
export DURIN_SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
used() { redis-cli -s "$state/redis.sock" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

"$ctl" client add web --ttl 1d >/dev/null
"$ctl" client add app --ttl 1d >/dev/null
hash='pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0='
start=$(used)
# The hash on standard input, as durinctl takes it (never on a command line).
seq -f 'user%05g' "$users" | xargs -P 4 -I{} sh -c 'printf "%s\n" "$1" | "$2" user add "$3" --password-hash --field "email=$3@example.com"' \
    _ "$hash" "$ctl" {} >/dev/null
before=$(used)
seq -f 'user%05g' "$users" | xargs -P 4 -I{} "$ctl" token issue {} web >/dev/null
after=$(used)
tokens=$(redis-cli -s "$state/redis.sock" --scan --pattern 'durin:t:*' | wc -l)
[ "$tokens" -eq "$users" ] || { echo "expected $users tokens, found $tokens" >&2; exit 1; }
agent='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
seq -f 'user%05g' "$users" | xargs -P 4 -I{} "$ctl" token issue {} app --address 203.0.113.7 --user-agent "$agent" \
    --label 'Work laptop' >/dev/null
detailed=$(used)
echo "redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'): $users live tokens cost $((after - before)) bytes:" \
    "$(((after - before) / users)) bytes per token (goal: at most 400)"
echo "with session details (address, a browser's user agent, a label): $(((detailed - after) / users)) bytes per token" \
    "(goal: at most 400)"
echo "and the $users user records (a Django hash and an email each): $(((before - start) / users)) bytes per user" \
    "${BENCH_REDIS_ARGS:+(redis-server $BENCH_REDIS_ARGS)}"
