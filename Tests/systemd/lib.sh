#!/usr/bin/env bash
# Helpers of Tests/systemd/run.sh, sourced by it: the TAP-style report, teardown, commands
# inside the namespace, polling, HTTP through nginx, the load generator. Scenario files
# (scenarios/*.sh) use them; run.sh sets the variables they read (work, sdpid, port, ...).

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
nok() { failed=$((failed + 1)); echo "not ok - $*"; }
note() { echo "# $*"; }
# expect DESCRIPTION WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1 (want '$2', got '$3')"; fi; }

work=""
unshare_pid=""
sdpid=""
cgdir=""
load_pid=""

# --- teardown (always) --------------------------------------------------------

ns_journal() {
    [ -n "$sdpid" ] && kill -0 "$sdpid" 2>/dev/null || return 0
    echo "# --- journalctl -u durin -n 50 (in the namespace) ---"
    ns journalctl -u durin.service -n 50 --no-pager 2>&1 | sed 's/^/#   /'
    echo "# --- journalctl -n 30, all units (in the namespace) ---"
    ns journalctl -n 30 --no-pager 2>&1 | sed 's/^/#   /'
    echo "# --- redis-server.log, last 30 lines, and its data directory (in the namespace) ---"
    ns tail -n 30 /var/log/redis/redis-server.log 2>&1 | sed 's/^/#   /'
    ns ls -la /var/lib/redis /var/lib/redis/appendonlydir 2>&1 | sed 's/^/#   /'
    echo "# --- systemctl --failed ---"
    ns systemctl --failed --no-pager 2>&1 | sed 's/^/#   /'
}

teardown() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
    if [ -n "$sdpid" ] && kill -0 "$sdpid" 2>/dev/null; then
        # SIGKILL to PID 1 of the namespace ends every process in it; its mounts
        # (overlays, tmpfs) go with the mount namespace.
        kill -9 "$sdpid"
    fi
    if [ -n "$unshare_pid" ]; then
        for _ in $(seq 1 100); do kill -0 "$unshare_pid" 2>/dev/null || break; sleep 0.05; done
        wait "$unshare_pid" 2>/dev/null
    fi
    if [ -n "$cgdir" ] && [ -d "$cgdir" ]; then
        for _ in $(seq 1 100); do
            find "$cgdir" -depth -type d -exec rmdir {} + 2>/dev/null
            [ -d "$cgdir" ] || break
            sleep 0.05
        done
        [ -d "$cgdir" ] && nok "teardown: cgroup $cgdir could not be removed"
    fi
    if [ -n "$work" ]; then
        if grep -qF "$work" /proc/self/mountinfo; then
            nok "teardown: mounts under $work remain on the host"
        fi
        host_unchanged
        if [ "${DURIN_TEST_KEEP:-0}" = 1 ]; then
            note "scratch directory kept: $work"
        else
            rm -rf "$work"
        fi
    fi
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=$((failed + 1))
        echo "not ok - the test stopped early (status $status)"
    fi
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

fatal() {
    echo "# setup failed: $*"
    nok "setup: $*"
    ns_journal
    exit 1
}

host_unchanged() {
    local changed trees=()
    for t in $host_trees; do [ -e "$t" ] && trees+=("$t"); done
    # ctime: dpkg sets mtimes from the package, but it cannot set ctimes.
    changed=$(find "${trees[@]}" -xdev -cnewer "$work/start-marker" 2>/dev/null | head -20)
    if [ -z "$changed" ]; then
        ok "host unchanged: nothing under $host_trees changed during the test"
    else
        nok "host changed during the test:"; echo "$changed" | sed 's/^/#   /'
    fi
    expect "host: the durin package's state on the host is unchanged" \
        "$host_durin_before" "$(dpkg-query -W -f '${Status}' durin 2>/dev/null || true)"
    expect "host: /etc/durin on the host is unchanged" \
        "$host_etc_durin_before" "$([ -e /etc/durin ] && echo yes || echo no)"
}

# --- the namespace ----------------------------------------------------------------

# Runs a command inside the namespace (its mounts and PIDs), with a clean environment.
ns() {
    nsenter -t "$sdpid" -m -p -u -i -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}
nsh() { ns bash -c "$1"; }
sctl() { ns systemctl "$@"; }
prop() { ns systemctl show "$1" -p "$2" --value; }
# durinctl as the README runs it: as root, reading /etc/durin/durin.env by itself.
ctl() { ns durinctl "$@"; }
now() { date +%s.%N; }
ms_since() { python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$2"; }
# Waits up to $1 seconds for a command to succeed.
wait_for() {
    local t=$1; shift
    local end=$(( $(date +%s) + t ))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# --- HTTP helpers (curl to loopback only) -------------------------------------------

code="" body=""
# req METHOD PATH [TOKEN [JSON]]: sets $code, $body; headers in $work/out/headers.
req() {
    local args=(-s --noproxy '*' --max-time 30 -o "$work/out/body" -D "$work/out/headers" -w '%{http_code}' -X "$1")
    [ -n "${3:-}" ] && args+=(-H "Authorization: Token $3")
    [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
    code=$(curl "${args[@]}" "$base$2")
    body=$(cat "$work/out/body" 2>/dev/null)
}
json() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$body" "$1" 2>/dev/null; }
# login USER CLIENT: sets $token (empty on failure), $code and $body.
token=""
login() {
    req POST /api/auth/login/ "" "{\"username\":\"$1\",\"password\":\"pw-$1\",\"client\":\"$2\"}"
    token=$(json token)
}
status_of() { req "$@"; echo "$code"; }

# --- the load generator (Tests/systemd/load.py) ---------------------------------------

# run_load NAME PATH TOKEN: starts the load generator in the background.
run_load() {
    rm -f "$work/out/$1.stop"
    python3 "$work/files/load.py" run "$port" "$2" "$3" "$work/out/$1.tsv" "$work/out/$1.stop" 4 60 &
    load_pid=$!
}
# wait_ok NAME N SINCE: waits (up to 30 s) until N requests of the load sent after
# SINCE (epoch seconds; 0 for any) were answered 200. A poll, not a sleep: a slow
# machine gets as long as it needs to build up the load the checks judge.
load_ok_count() { [ "$(python3 "$work/files/load.py" count "$work/out/$1.tsv" "$3")" -ge "$2" ]; }
wait_ok() { wait_for 30 load_ok_count "$@" || nok "load $1: fewer than $2 answers of 200 after $3 within 30 s"; }
stop_load() {
    touch "$work/out/$1.stop"
    wait "$load_pid" 2>/dev/null
    load_pid=""
}
# analyze NAME T0 T1: sets the load.py analyze variables (total ok200 ... fail_codes).
analyze() {
    total=0 ok200=0 before_fail=-1 inflight=0 inflight_fail=-1 late=0 late_fail=-1
    gap_ms=-1 no200_ms=-1 max_latency_ms=-1 fail_codes=unknown
    eval "$(python3 "$work/files/load.py" analyze "$work/out/$1.tsv" "$2" "$3" | grep -E '^[a-z_0-9]+=[0-9:,-]*$')"
}
