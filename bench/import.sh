#!/usr/bin/env bash
# Times `durinctl import django` on a generated django-rest-durin dump: BENCH_USERS users
# (10000) with a token for each of BENCH_CLIENTS clients (2: 20000 tokens), into a
# redis-server of its own on a unix socket in a temporary directory (AOF on, as in
# production). Prints the dump's size and the time of a first import, a second one
# (nothing to change) and a dry run.
#
#   bench/import.sh            (release build of durinctl; needs redis-server, python3)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
users=${BENCH_USERS:-10000}
clients=${BENCH_CLIENTS:-2}

swift build -c release --package-path "$root" --product durinctl >/dev/null
bin=$(swift build -c release --package-path "$root" --show-bin-path)

tmp=$(mktemp -d)
redis_pid=
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# The dump, as `manage.py dumpdata auth.user durin` writes it.
python3 - "$tmp/dump.json" "$users" "$clients" <<'PY'
import base64, datetime, json, os, sys
path, users, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
now = datetime.datetime.now(datetime.timezone.utc)
def iso(t): return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
records = []
for c in range(1, clients + 1):
    records.append({"model": "durin.client", "pk": c, "fields": {"name": f"client{c}", "token_ttl": f"{c} 00:00:00", "throttle_rate": ""}})
pk = 0
for u in range(1, users + 1):
    salt = base64.b64encode(os.urandom(16)).decode()[:22]
    hashed = base64.b64encode(os.urandom(32)).decode()
    records.append({"model": "auth.user", "pk": u, "fields": {
        "password": f"pbkdf2_sha256$600000${salt}${hashed}", "last_login": None, "is_superuser": False,
        "username": f"user{u}", "first_name": "First", "last_name": f"Last{u}", "email": f"user{u}@example.com",
        "is_staff": False, "is_active": True, "date_joined": iso(now), "groups": [], "user_permissions": []}})
    for c in range(1, clients + 1):
        pk += 1
        records.append({"model": "durin.authtoken", "pk": pk, "fields": {
            "token": os.urandom(32).hex(), "user": u, "client": c,
            "created": iso(now), "expiry": iso(now + datetime.timedelta(days=c))}})
json.dump(records, open(path, "w"), indent=2)
PY

redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 700 --dir "$tmp" --save "" \
    --appendonly yes --appendfsync everysec --logfile "$tmp/redis.log" & redis_pid=$!
for _ in $(seq 100); do redis-cli -s "$tmp/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
export DURIN_REDIS_URL=unix://$tmp/redis.sock DURIN_SECRET_KEY=$(openssl rand -hex 32)

timed() {  # label, then the durinctl arguments; prints the seconds and the summary
    local label=$1; shift
    local start ms
    start=$(date +%s%N)
    "$bin/durinctl" "$@" > "$tmp/out.txt"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%-26s %3d.%02d s   %s\n' "$label" $((ms / 1000)) $((ms % 1000 / 10)) "$(tr '\n' ' ' < "$tmp/out.txt")"
}

echo "dump: $users users, $((users * clients)) tokens, $(du -h "$tmp/dump.json" | cut -f1)"
timed "import" import django "$tmp/dump.json"
timed "import again (no changes)" import django "$tmp/dump.json"
timed "dry run" import django "$tmp/dump.json" --dry-run
echo "redis: $(redis-cli -s "$tmp/redis.sock" dbsize) keys, $(redis-cli -s "$tmp/redis.sock" info memory | grep -m1 used_memory_human | tr -d '\r')"
