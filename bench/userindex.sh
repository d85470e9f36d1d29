#!/usr/bin/env bash
# The console's user search at a million users: what the username index (a sorted
# set whose members all score 0, `durin:userindex`) costs in Redis memory, and how
# long a prefix search (ZRANGE BYLEX ... LIMIT 0 60) takes, in a redis-server of its
# own. BENCH_USERS (1000000) sets the number of names.
#
#   bench/userindex.sh        (needs redis-server, redis-cli, python3)
set -euo pipefail
users=${BENCH_USERS:-1000000}
state=$(mktemp -d /tmp/durin-userindex.XXXXXX)
cleanup() { redis-cli -s "$state/redis.sock" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT
redis-server --port 0 --unixsocket "$state/redis.sock" --save '' --appendonly no --daemonize yes \
    --logfile "$state/redis.log" --dir "$state"
for _ in $(seq 100); do redis-cli -s "$state/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
used() { redis-cli -s "$state/redis.sock" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

before=$(used)
# Names like real ones: a first name, a dot, a last name, a number (about 18 bytes).
python3 - "$users" <<'PY' | redis-cli -s "$state/redis.sock" --pipe >/dev/null
import random, sys
first = ["anna", "ben", "carla", "dmitri", "eva", "farid", "greta", "hugo", "ines", "jonas", "kim", "lena", "mario", "nora"]
last = ["smith", "garcia", "muller", "rossi", "kowalski", "nguyen", "tanaka", "silva", "jensen", "novak"]
rng = random.Random(7)
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    name = f"{rng.choice(first)}.{rng.choice(last)}{i}".encode()
    out.write(b"*4\r\n$4\r\nZADD\r\n$15\r\ndurin:userindex\r\n$1\r\n0\r\n$%d\r\n%s\r\n" % (len(name), name))
PY
after=$(used)
count=$(redis-cli -s "$state/redis.sock" zcard durin:userindex)
echo "redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'): $count names in the index cost $((after - before)) bytes:" \
    "$(((after - before) / count)) bytes per user"
# Prefix searches as the console sends them (ZRANGE BYLEX ... LIMIT 0 60), 1,000 of
# each, over the socket: the median round trip, server and client included.
python3 - "$state/redis.sock" <<'PY'
import socket, statistics, sys, time
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
reader = sock.makefile("rb")
def command(*parts):
    out = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    sock.sendall(out)
    header = reader.readline()
    n = int(header[1:])
    names = []
    for _ in range(max(n, 0)):
        size = int(reader.readline()[1:])
        names.append(reader.read(size + 2)[:-2])
    return names
for prefix in (b"a", b"anna", b"anna.sm", b"greta.novak99", b"zz"):
    times = []
    for _ in range(1000):
        t = time.perf_counter()
        found = command(b"ZRANGE", b"durin:userindex", b"[" + prefix, b"[" + prefix + b"\xff", b"BYLEX", b"LIMIT", b"0", b"60")
        times.append(time.perf_counter() - t)
    print(f"prefix {prefix.decode()!r}: {len(found)} names, median {statistics.median(times) * 1e6:.0f} µs a search")
PY
