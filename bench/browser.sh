#!/usr/bin/env bash
# What browsers and signed identities cost a check, against the same check with the
# Authorization header, side by side in alternating rounds through the example site
# (auth_request): durin-fcgi's CPU time per request (user + system, all threads,
# /proc/PID/task/*/schedstat) for
#   - /app/page with the header (the reference),
#   - /app/page with the durin_session cookie instead ($durin_cookie on),
#   - /app/signed/ with the header and $durin_assertion on (X-Durin-Assertion).
# Prints the medians and the ratios to the reference: the goals are about 1.0 for
# the cookie and at most 1.1 for the assertion.
#
#   bench/browser.sh     (release build; needs wrk)
#
# BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_CONNECTIONS (16).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-16}
out=$root/bench/out
state=$out/browser-stack
mkdir -p "$out"

command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --package-path "$root" >/dev/null
bin=$(swift build -c release --package-path "$root" --show-bin-path)

port=${BENCH_PORT:-18491}
export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_LOG_LEVEL=warning DURIN_THREADS=8
"$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true
rm -rf "$state"
"$root/scripts/devstack.sh" start >/dev/null
trap '"$root/scripts/devstack.sh" stop >/dev/null 2>&1' EXIT

REDISCLI_AUTH=$(cat "$state/redis-password")
export DURIN_REDIS_URL=unix://:$REDISCLI_AUTH@$state/redis.sock DURIN_SECRET_KEY=$(cat "$state/secret")
"$bin/durinctl" client add web >/dev/null
"$bin/durinctl" client add browser --cookie >/dev/null
echo "x" | "$bin/durinctl" user add bench --password-stdin >/dev/null
token=$("$bin/durinctl" token issue bench web)
session=$("$bin/durinctl" token issue bench browser)
base=http://127.0.0.1:$port
header="Authorization: Token $token"
cookie="Cookie: theme=dark; durin_session=$session"
for probe in "$header|/app/page" "$cookie|/app/page" "$header|/app/signed/x"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "${probe%%|*}" "$base${probe#*|}")
    [ "$code" = 200 ] || { echo "bench: ${probe#*|} answered $code" >&2; exit 1; }
done

cpu_ns() { local t=0 f; for f in /proc/"$1"/task/*/schedstat; do t=$((t + $(cut -d' ' -f1 "$f"))); done; echo "$t"; }
pid=$(cat "$state/durin.pid")

# One round: prints durin-fcgi's ns per request.
round() {
    local head=$1 url=$2 before after requests
    before=$(cpu_ns "$pid")
    wrk -t2 -c"$conns" -d"${seconds}s" -H "$head" "$url" > "$out/browser-wrk.txt" 2>&1
    after=$(cpu_ns "$pid")
    grep -q 'Non-2xx' "$out/browser-wrk.txt" && { echo "bench: non-2xx answers from $url" >&2; cat "$out/browser-wrk.txt" >&2; exit 1; }
    requests=$(awk '/requests in/ {print $1}' "$out/browser-wrk.txt")
    echo $(( (after - before) / requests ))
}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

declare -a plain=() cookies=() signed=()
for r in $(seq "$rounds"); do
    plain+=("$(round "$header" "$base/app/page")")
    cookies+=("$(round "$cookie" "$base/app/page")")
    signed+=("$(round "$header" "$base/app/signed/x")")
    echo "  round $r: header ${plain[-1]} ns, cookie ${cookies[-1]} ns, assertion ${signed[-1]} ns per request" >&2
done
p=$(median "${plain[@]}") c=$(median "${cookies[@]}") s=$(median "${signed[@]}")
printf '\n| check (durin-fcgi CPU per request, median of %s rounds of %s s) | ns | ratio to the header |\n|---|---:|---:|\n' "$rounds" "$seconds"
printf '| `Authorization` header | %s | 1.00 |\n' "$p"
printf '| `durin_session` cookie | %s | %s |\n' "$c" "$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')"
printf '| header, `$durin_assertion on` | %s | %s |\n' "$s" "$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.2f", a / b }')"
