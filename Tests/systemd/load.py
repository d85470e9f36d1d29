#!/usr/bin/env python3
"""Load generator and analysis for Tests/systemd/run.sh (standard library only).

  load.py run PORT PATH TOKEN OUT STOPFILE [THREADS] [MAX_SECONDS]
      THREADS keep-alive connections to 127.0.0.1:PORT send `GET PATH` with
      `Authorization: Token TOKEN` until STOPFILE exists (or MAX_SECONDS pass).
      Every request becomes a line of OUT: "start end status" (epoch seconds;
      status 0 when the connection failed or timed out). While it runs, each
      answer is also appended to OUT.live at once, so that a caller can poll for
      progress (`load.py count`) instead of sleeping.

  load.py count OUT SINCE
      How many requests sent after SINCE (epoch seconds) got 200 so far.

  load.py analyze OUT T0 T1
      T0..T1 is the event (a kill or a stop: just before the command was sent,
      just after it returned). Prints shell-readable key=value lines:
        total ok200             requests, and of them 200s
        before_fail             non-200 among requests answered before T0
        inflight inflight_fail  requests sent before T1 and answered after T0
        late late_fail          requests sent after T1, and their non-200s
        gap_ms                  T0 to the first 200 to a request sent after T1
        no200_ms                longest time without any 200 answer (after T0)
        max_latency_ms          slowest request sent after T0
        fail_codes              "status:count,..." of all non-200 answers
"""
import http.client
import os
import sys
import threading
import time


def run(port, path, token, out, stopfile, threads=4, max_seconds=60.0):
    deadline = time.time() + max_seconds
    results = []
    lock = threading.Lock()
    live = open(out + ".live", "w", buffering=1)

    def worker():
        conn = None
        mine = []
        while not os.path.exists(stopfile) and time.time() < deadline:
            start = time.time()
            status = 0
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                conn.request("GET", path, headers={"Authorization": "Token " + token})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()
                    conn = None
            except Exception:
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
            mine.append((start, time.time(), status))
            with lock:
                live.write("%.6f %.6f %d\n" % mine[-1])
        with lock:
            results.extend(mine)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    live.close()
    results.sort()
    with open(out, "w") as f:
        for s, e, st in results:
            f.write("%.6f %.6f %d\n" % (s, e, st))


def count(out, since):
    n = 0
    try:
        with open(out + ".live") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and float(parts[0]) > since and parts[2] == "200":
                    n += 1
    except FileNotFoundError:
        pass
    print(n)


def analyze(out, t0, t1):
    recs = []
    with open(out) as f:
        for line in f:
            s, e, st = line.split()
            recs.append((float(s), float(e), int(st)))
    ok = [r for r in recs if r[2] == 200]
    before = [r for r in recs if r[1] < t0]
    inflight = [r for r in recs if r[0] <= t1 and r[1] >= t0]
    late = [r for r in recs if r[0] > t1]
    fails = [r for r in recs if r[2] != 200]
    first_ok = min((r[1] for r in late if r[2] == 200), default=None)
    # Longest stretch after T0 in which no request got a 200.
    ends = sorted(r[1] for r in ok if r[1] >= t0)
    no200 = 0.0
    prev = t0
    for e in ends:
        no200 = max(no200, e - prev)
        prev = e
    codes = {}
    for r in fails:
        codes[r[2]] = codes.get(r[2], 0) + 1
    after = [r for r in recs if r[0] >= t0]
    print("total=%d" % len(recs))
    print("ok200=%d" % len(ok))
    print("before_fail=%d" % sum(1 for r in before if r[2] != 200))
    print("inflight=%d" % len(inflight))
    print("inflight_fail=%d" % sum(1 for r in inflight if r[2] != 200))
    print("late=%d" % len(late))
    print("late_fail=%d" % sum(1 for r in late if r[2] != 200))
    print("gap_ms=%d" % (round((first_ok - t0) * 1000) if first_ok is not None else -1))
    print("no200_ms=%d" % round(no200 * 1000))
    print("max_latency_ms=%d" % (round(max(r[1] - r[0] for r in after) * 1000) if after else -1))
    print("fail_codes=%s" % ",".join("%d:%d" % kv for kv in sorted(codes.items())))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "run" and len(sys.argv) >= 7:
        a = sys.argv[2:]
        run(int(a[0]), a[1], a[2], a[3], a[4],
            int(a[5]) if len(a) > 5 else 4, float(a[6]) if len(a) > 6 else 60.0)
    elif cmd == "count" and len(sys.argv) == 4:
        count(sys.argv[2], float(sys.argv[3]))
    elif cmd == "analyze" and len(sys.argv) == 5:
        analyze(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(__doc__)
