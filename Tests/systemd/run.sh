#!/usr/bin/env bash
# End-to-end test of the Debian package under a real systemd (`make test-systemd`).
#
#   Tests/systemd/run.sh PATH/TO/durin_VERSION_ARCH.deb        (as root)
#
# systemd runs as PID 1 of private PID, mount, UTS, IPC and cgroup namespaces
# (Tests/systemd/ns-init.sh sets them up): Debian's redis-server configured as the
# README says, the package installed with dpkg, nginx serving the example site on
# a free loopback port. Then logins, token use, a SIGKILL and a stop of durin under
# load, Redis restarts and a Redis SIGKILL, and the package purged. The network
# namespace is the host's: every request goes to 127.0.0.1 only.
#
# Nothing reaches the host: the trees the test writes are overlays or tmpfs in the
# namespace, which ends (with everything in it) when its systemd gets SIGKILL.
# The last check compares the host's /etc, /usr and dpkg database with their
# state before the test.
#
# Output: "ok - ..." / "not ok - ..." per check, "# ..." for measurements and
# notes, and finally "N passed, M failed". Exit status 0 only when all passed.
#
# Environment: DURIN_TEST_PORT (nginx's loopback port; default: a free one in
# 18000-18999), DURIN_TEST_KEEP=1 (keep the scratch directory; the namespace is
# always ended).
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
deb=${1:-}

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
trap teardown EXIT
trap 'exit 130' INT TERM

fatal() {
    echo "# setup failed: $*"
    nok "setup: $*"
    ns_journal
    exit 1
}

[ -n "$deb" ] || { echo "usage: $0 PATH/TO/durin_VERSION_ARCH.deb" >&2; exit 2; }
[ -f "$deb" ] || fatal "no such package: $deb (make deb CONFIG=debug DIST=.build/test-dist)"
[ "$(id -u)" = 0 ] || fatal "must run as root (namespaces, mounts, dpkg inside)"
for tool in unshare nsenter setpriv findmnt ss curl python3 /lib/systemd/systemd redis-server nginx; do
    command -v "$tool" >/dev/null 2>&1 || fatal "missing $tool (see .ci/run)"
done

# --- the host's state, compared at the end -----------------------------------

work=$(mktemp -d /tmp/durin-systemd-test.XXXXXX)
chmod 0755 "$work"
mkdir -p "$work/layers" "$work/files" "$work/out"
touch "$work/start-marker"
host_trees="/etc /usr /var/lib/dpkg /var/lib/redis /var/lib/nginx"
host_durin_before=$(dpkg-query -W -f '${Status}' durin 2>/dev/null || true)
host_etc_durin_before=$([ -e /etc/durin ] && echo yes || echo no)

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

cp "$deb" "$work/files/durin.deb"
cp "$root/redis/durin-redis.conf" "$root/redis/durin.acl" "$here/ns-init.sh" "$here/load.py" "$work/files/"

# A cgroup2 subtree of our own: the namespace's systemd manages only that (as the
# root of its cgroup namespace), and teardown removes it.
cg2=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
[ -n "$cg2" ] || fatal "no cgroup2 file system mounted (systemd in the namespace needs one)"
cgpath=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
cgdir="${cg2}${cgpath%/}/durin-systemd-test.${work##*.}"
mkdir "$cgdir" || fatal "cannot create the cgroup $cgdir"

(
    echo "$BASHPID" > "$cgdir/cgroup.procs" || exit 1
    exec unshare --pid --fork --mount --uts --ipc --cgroup --mount-proc --propagation private \
        env -i container=durin-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash "$work/files/ns-init.sh" "$work"
) >"$work/out/ns-init.log" 2>&1 &
unshare_pid=$!

for _ in $(seq 1 100); do
    sdpid=$(pgrep -P "$unshare_pid" | head -1)
    [ -n "$sdpid" ] && [ "$(cat "/proc/$sdpid/comm" 2>/dev/null)" = systemd ] && break
    kill -0 "$unshare_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$sdpid" ] || [ "$(cat "/proc/$sdpid/comm" 2>/dev/null)" != systemd ]; then
    sed 's/^/#   /' "$work/out/ns-init.log"
    sdpid=""
    fatal "systemd did not start in the namespace (ns-init.log above)"
fi

# 1. systemd is up.
boot_start=$(now)
state=""
for _ in $(seq 1 300); do
    state=$(sctl is-system-running 2>/dev/null)
    case "$state" in running|degraded) break ;; esac
    sleep 0.1
done
case "$state" in
    running|degraded) ok "systemd runs as PID 1 of the namespace ($state after $(ms_since "$boot_start" "$(now)") ms)" ;;
    *) fatal "systemd in the namespace is not up: is-system-running says '$state'" ;;
esac
expect "the namespace's PID 1 is systemd" systemd "$(ns ps -o comm= -p 1)"

# --- 2 and 3. the package, then Redis and durin as the README configures them -----

if ! ns dpkg -i /run/durin-test/files/durin.deb >"$work/out/dpkg-install.log" 2>&1; then
    sed 's/^/#   /' "$work/out/dpkg-install.log"
    fatal "dpkg -i failed"
fi
ok "dpkg -i $(basename "$deb") inside the namespace"
depends=$(dpkg-deb -f "$work/files/durin.deb" Depends)
note "Depends: $depends"
short=""
for dep in $(echo "$depends" | tr ',' '\n' | sed -n 's/^ *\([^ ]*\) (>= \([^)]*\))$/\1=\2/p'); do
    # init-system-helpers is named by the interface it provides (1.54), not a library.
    [ "${dep%%=*}" = init-system-helpers ] || [ "${dep#*=}" = "$(dpkg-query -W -f '${Version}' "${dep%%=*}")" ] || short="$short $dep"
done
expect "Depends name every library package at its full Debian version (libfcgi0ldbl's revision carries CVE-2025-23016's fix)" "" "$short"
echo "$depends" | grep -q 'libfcgi0ldbl (>= [^)]*-[^)]*)' && ok "Depends: libfcgi0ldbl with its Debian revision" \
    || nok "Depends: libfcgi0ldbl without a Debian revision: $depends"

# Steps 1 and 2 of the README's deployment block, verbatim (the README says so).
awk '/^# 1\. Redis:/ { on = 1 } /^# 3\. / { on = 0 } on' "$root/README.md" > "$work/files/readme-steps.sh"
[ "$(grep -c 'systemctl restart' "$work/files/readme-steps.sh")" = 2 ] || fatal "README: no deployment steps 1 and 2 found"
note "running the README's deployment steps 1 and 2 ($(wc -l < "$work/files/readme-steps.sh") lines)"
if ! ns bash -euo pipefail /run/durin-test/files/readme-steps.sh >"$work/out/readme-steps.log" 2>&1; then
    sed 's/^/#   /' "$work/out/readme-steps.log"
    fatal "the README's deployment steps failed"
fi
ok "the README's deployment steps 1 and 2 ran"
redis_sock=/run/redis/redis-server.sock
# redis-cli as the README's recipes use it: --askpass, the password on standard input.
redis_as() { local user=$1; shift; ns bash -c 'u=$1; s=$2; shift 2; exec redis-cli --user "$u" --askpass -s "$s" "$@" < "/etc/durin/redis/$u"' _ "$user" "$redis_sock" "$@"; }
rcli() { redis_as admin "$@"; }
redis_ready() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }
wait_for 10 redis_ready || fatal "redis-server does not answer the admin user on $redis_sock"
expect "redis-server.service is active" active "$(sctl is-active redis-server.service)"
expect "redis: appendonly yes (from durin.conf)" yes "$(rcli config get appendonly | tail -1)"
expect "redis: appendfsync everysec" everysec "$(rcli config get appendfsync | tail -1)"
expect "redis: maxmemory-policy noeviction" noeviction "$(rcli config get maxmemory-policy | tail -1)"
expect "redis: no TCP port (durin-redis.conf)" 0 "$(rcli config get port | tail -1)"
expect "redis: the socket is open to all local users, who must log in (unixsocketperm 666)" "socket 666" \
    "$(ns stat -c '%F %a' "$redis_sock")"
if ns redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then nok "redis-cli -h 127.0.0.1 ping answered"; else ok "redis-cli -h 127.0.0.1 ping fails: no TCP listener"; fi
expect "redis: the socket without a user answers NOAUTH" NOAUTH "$(ns redis-cli -s "$redis_sock" ping 2>&1 | grep -o NOAUTH | head -1)"
expect "redis: the socket without a user cannot read a key either" NOAUTH \
    "$(ns redis-cli -s "$redis_sock" get durin:secret 2>&1 | grep -o NOAUTH | head -1)"
expect "redis: the ACL file holds no password, only SHA-256s" "" \
    "$(for u in durin durin-inspect admin; do ns grep -F -f "/etc/durin/redis/$u" /etc/redis/users.acl; done)"
expect "redis: the password files are root's, mode 0600, in a 0700 directory" "700 600 600 600" \
    "$(ns stat -c '%a' /etc/durin/redis /etc/durin/redis/durin /etc/durin/redis/durin-inspect /etc/durin/redis/admin | xargs)"
expect "redis: user durin cannot read keys outside durin:" NOPERM \
    "$(ns bash -c 'u=$(sed -n "s#^DURIN_REDIS_URL=unix://durin:\([^@]*\)@.*#\1#p" /etc/durin/durin.env); REDISCLI_AUTH=$u redis-cli --user durin -s '"$redis_sock"' get other' 2>&1 | grep -o NOPERM | head -1)"
redis_restart_mode=$(prop redis-server.service Restart)
note "Debian's redis-server.service: Restart=$redis_restart_mode RestartUSec=$(prop redis-server.service RestartUSec)"

# --- the package, as installed ------------------------------------------------------

expect "durin.socket is enabled" enabled "$(sctl is-enabled durin.socket 2>&1)"
expect "durin.service is enabled" enabled "$(sctl is-enabled durin.service 2>&1)"
expect "durin.socket is active after install" active "$(sctl is-active durin.socket)"
expect "durin.service is active after install (the postinst starts it)" active "$(sctl is-active durin.service)"
expect "/etc/durin/durin.env is mode 0640 root:root" "640 root:root" "$(ns stat -c '%a %U:%G' /etc/durin/durin.env)"
secret=$(ns sed -n 's/^DURIN_SECRET_KEY=//p' /etc/durin/durin.env)
sample_secret=$(ns sed -n 's/^DURIN_SECRET_KEY=//p' /usr/share/doc/durin/examples/durin.env)
if [[ "$secret" =~ ^[0-9a-f]{64}$ ]] && [ "$secret" != "$sample_secret" ]; then
    ok "durin.env has a fresh 64-hex-digit DURIN_SECRET_KEY (not the sample's '$sample_secret')"
else
    nok "durin.env's DURIN_SECRET_KEY is '$secret'"
fi
expect "/run/durin/durin.sock: a socket, mode 0660, root:www-data" "socket 660 root:www-data" \
    "$(ns stat -c '%F %a %U:%G' /run/durin/durin.sock)"
if ns systemd-analyze verify durin.socket durin.service >"$work/out/verify.log" 2>&1 && ! [ -s "$work/out/verify.log" ]; then
    ok "systemd-analyze verify durin.socket durin.service: no complaints"
else
    nok "systemd-analyze verify durin.socket durin.service:"; sed 's/^/#   /' "$work/out/verify.log"
fi

# The README's step 2 set the ACL user; the test makes new password hashes cheap.
expect "/etc/durin/durin.env is still 0640 root:root after the README's steps" "640 root:root" \
    "$(ns stat -c '%a %U:%G' /etc/durin/durin.env)"
ns grep -q '^DURIN_REDIS_URL=unix://durin:' /etc/durin/durin.env && ok "durin.env names the ACL user durin" \
    || nok "durin.env has no DURIN_REDIS_URL for the ACL user"
nsh "sed -i 's#^DURIN_PASSWORD_ITERATIONS=.*#DURIN_PASSWORD_ITERATIONS=20000#' /etc/durin/durin.env" || fatal "could not edit /etc/durin/durin.env"
sctl restart durin.service || fatal "systemctl restart durin.service failed"
durin_active() { [ "$(sctl is-active durin.service)" = active ]; }
wait_for 10 durin_active || fatal "durin.service is not active after the restart"
ok "durin.service restarted with the ACL user in DURIN_REDIS_URL"
expect "durin.service joins no group of Redis's" "" "$(prop durin.service SupplementaryGroups)"
durin_groups=$(ns ps -o supgrp= -p "$(prop durin.service MainPID)" | xargs)
case ",$durin_groups," in *,redis,*) nok "durin-fcgi runs in group redis ($durin_groups)" ;; *) ok "durin-fcgi is not in group redis (groups: ${durin_groups:--})" ;; esac

# durin's state: "NRestarts MainPID ExecMainStatus ActiveState".
durin_state() {
    ns systemctl show durin.service -p NRestarts -p MainPID -p ExecMainStatus -p ActiveState |
        awk -F= '{ v[$1] = $2 } END { print v["NRestarts"], v["MainPID"], v["ExecMainStatus"], v["ActiveState"] }'
}
restarts() { prop durin.service NRestarts; }
expected_restarts=$(restarts)
expect "NRestarts=0 after install and restart" 0 "$expected_restarts"
sigsys_seen=0
# After each step: NRestarts must be what the step allows, and the last exit never SIGSYS.
check_durin() {
    local step=$1 n pid st active
    read -r n pid st active <<<"$(durin_state)"
    expect "$step: durin NRestarts=$expected_restarts" "$expected_restarts" "$n"
    if [ "$st" = 31 ]; then sigsys_seen=1; nok "$step: ExecMainStatus=31 (SIGSYS: a syscall refused by SystemCallFilter=)"; fi
    expect "$step: durin.service is active" active "$active"
}

# --- 4. seed with the installed durinctl -----------------------------------------

for c in web cli mobile; do
    ctl client add "$c" >>"$work/out/seed.log" 2>&1 || { cat "$work/out/seed.log" | sed 's/^/#   /'; fatal "durinctl client add $c failed"; }
done
for u in alice bob; do
    echo "pw-$u" | ctl user add "$u" --password-stdin >>"$work/out/seed.log" 2>&1 \
        || { sed 's/^/#   /' "$work/out/seed.log"; fatal "durinctl user add $u failed"; }
done
expect "durinctl (as the ACL user) lists the clients" "cli mobile web" "$(ctl client list 2>&1 | awk '{print $1}' | grep -E '^(web|cli|mobile)$' | sort | xargs)"
if rcli client list | grep -q 'user=durin '; then
    ok "durin-fcgi's Redis connections use the ACL user durin"
else
    nok "no Redis connection as user durin (CLIENT LIST: $(rcli client list | awk '{for(i=1;i<=NF;i++) if ($i ~ /^user=/) print $i}' | sort | uniq -c | xargs))"
fi

# --- 5. nginx with the example site on a free loopback port ------------------------

port_free() { [ -z "$(ss -ltnH "sport = :$1")" ]; }
port=${DURIN_TEST_PORT:-}
if [ -z "$port" ]; then
    for _ in $(seq 1 50); do
        p=$((18000 + RANDOM % 1000))
        if port_free "$p"; then port=$p; break; fi
    done
fi
[ -n "$port" ] && port_free "$port" || fatal "no free loopback port for nginx (DURIN_TEST_PORT=$port)"
nsh "set -e
    ln -sf /etc/nginx/sites-available/durin /etc/nginx/sites-enabled/durin
    rm -f /etc/nginx/sites-enabled/default
    sed -i 's/^\([[:space:]]*\)listen 80;/\1listen 127.0.0.1:$port;/' /etc/nginx/sites-available/durin
    grep -q 'listen 127.0.0.1:$port;' /etc/nginx/sites-available/durin" || fatal "could not enable the example site"
if ! ns nginx -t -q >"$work/out/nginx-t.log" 2>&1; then
    sed 's/^/#   /' "$work/out/nginx-t.log"; fatal "nginx -t rejects the example site"
fi
sctl restart nginx.service || { ns journalctl -u nginx -n 20 --no-pager | sed 's/^/#   /'; fatal "nginx.service did not start"; }
base="http://127.0.0.1:$port"
wait_for 10 curl -s --noproxy '*' -o /dev/null "$base/" || fatal "nginx does not answer on $base"
ok "nginx.service serves the example site on 127.0.0.1:$port"

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

# --- 6 and 11. the API through nginx; a login runs the hasher threads -------------

t0=$(now)
login alice web
tok=$token login_code=$code
expect "login/ alice web: 200" 200 "$login_code"
note "first login took $(ms_since "$t0" "$(now)") ms"
[[ "$tok" =~ ^[0-9a-f]{64}$ ]] && ok "login/ returns a 64-hex-digit token" || nok "login/ returned no token: $body"
read -r n pid st active <<<"$(durin_state)"
expect "after the first login durin is still active with the same MainPID (no SIGSYS crash)" "active $pid" "$active $(prop durin.service MainPID)"
if [ "$st" = 31 ]; then sigsys_seen=1; nok "ExecMainStatus=31 after login (SIGSYS)"; fi
hashers=$(ns ps -L -o cls=,comm= -p "$pid" | awk '$2 ~ /^durin-hash/')
if [ -n "$hashers" ] && ! echo "$hashers" | grep -qv '^ *IDL'; then
    ok "the password hashers run at SCHED_IDLE (sched_setscheduler allowed by the unit; hasher threads: $(echo "$hashers" | wc -l))"
else
    nok "password hashers not all SCHED_IDLE: $(echo "$hashers" | xargs)"
fi
if ns journalctl -u durin.service --no-pager -o cat | grep -q 'lowering it was refused'; then
    nok "durin logged that lowering the hashers' priority was refused"
else
    ok "durin did not log a refused priority change"
fi

tok_key=$(printf '%s\n' "$tok" | ctl token key 2>&1)
expect "redis: durin-inspect reads a token hash (the README's recipe)" alice \
    "$(redis_as durin-inspect hget "$tok_key" u 2>&1)"
expect "redis: durin-inspect cannot write one" NOPERM "$(redis_as durin-inspect hset "$tok_key" u mallory 2>&1 | grep -o NOPERM | head -1)"
expect "redis: durin-inspect cannot read keys outside durin:" NOPERM \
    "$(redis_as durin-inspect get other 2>&1 | grep -o NOPERM | head -1)"
expect "redis: durin-inspect cannot change Redis" NOPERM "$(redis_as durin-inspect config set dir /tmp 2>&1 | grep -o NOPERM | head -1)"
req GET /api/ping/ "$tok"
expect "GET /api/ping/ with the token: 200" 200 "$code"
expect "/api/ping/ answers for alice and web" "alice web" "$(json user) $(json client)"
req GET /api/auth/verify/ "$tok"
expect "GET verify/: 200 for alice" "200 alice" "$code $(json user)"
req POST /api/auth/refresh/ "$tok"
expect "POST refresh/: 200 with an expiry" "200 yes" "$code $([ -n "$(json expiry)" ] && echo yes || echo no)"
req POST /api/auth/logout/ "$tok"
expect "POST logout/: 204" 204 "$code"
req GET /api/ping/ "$tok"
expect "the logged-out token gets 401 on /api/ping/" 401 "$code"
expect "401 carries durin's JSON" "Invalid token." "$(json detail)"
req GET /api/auth/login/
expect "GET login/: 405" 405 "$code"
req GET /api/auth/ready/
expect "GET ready/: 200 redis ok" "200 ok" "$code $(json redis)"
check_durin "API"

# --- 7. SIGKILL under load: systemd restarts durin --------------------------------

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

login alice web; tok_web=$token
login alice mobile; tok_mobile=$token
[ -n "$tok_web" ] && [ -n "$tok_mobile" ] || fatal "login for the kill test failed ($code $body)"
read -r n_before pid_before _ _ <<<"$(durin_state)"
run_load kill /api/ping/ "$tok_web"
wait_ok kill 100 0
k0=$(now)
sctl kill -s KILL durin.service
k1=$(now)
# Active again, with a main process that is not the killed one.
durin_replaced() {
    local n p st a
    read -r n p st a <<<"$(durin_state)"
    [ "$a" = active ] && [ "$p" != 0 ] && [ "$p" != "$1" ]
}
wait_for 20 durin_replaced "$pid_before"
k_active=$(now)
wait_ok kill 50 "$k1"
stop_load kill
read -r n_after pid_after st_after active_after <<<"$(durin_state)"
analyze kill "$k0" "$k1"
expected_restarts=$((expected_restarts + 1))
expect "SIGKILL: systemd restarted durin (NRestarts $n_before -> $((n_before + 1)))" "$((n_before + 1))" "$n_after"
expect "SIGKILL: durin.service active again with a new MainPID" "active yes" "$active_after $([ "$pid_after" != "$pid_before" ] && echo yes || echo no)"
[ "$st_after" = 31 ] && { sigsys_seen=1; nok "SIGKILL: ExecMainStatus=31"; }
note "kill load: $total requests, $ok200 200s; in flight at the kill: $inflight ($inflight_fail failed); failure codes: ${fail_codes:-none}"
note "kill gap: $gap_ms ms (kill to the first 200 to a request sent after it); longest time without a 200: $no200_ms ms; slowest request: $max_latency_ms ms; systemd had durin active again after $(ms_since "$k0" "$k_active") ms"
expect "SIGKILL: no failures before the kill" 0 "$before_fail"
expect "SIGKILL: only requests in flight at the kill failed (failures among later requests)" 0 "$late_fail"
[ "$total" -gt 100 ] && [ "$late" -gt 0 ] && [ "$gap_ms" -ge 0 ] \
    && ok "SIGKILL: the load kept going through the restart ($late requests after the kill)" \
    || nok "SIGKILL: too little load to judge (total=$total late=$late gap=$gap_ms)"
expect "SIGKILL: a token issued before the kill still verifies" 200 "$(status_of GET /api/auth/verify/ "$tok_mobile")"
check_durin "after SIGKILL"

# --- 8. systemctl stop under load --------------------------------------------------

read -r n_before pid_before _ _ <<<"$(durin_state)"
cursor=$(ns journalctl -u durin.service -n 1 --show-cursor -o cat --no-pager | sed -n 's/^-- cursor: //p')
run_load stop /api/ping/ "$tok_web"
wait_ok stop 100 0
s0=$(now)
sctl stop durin.service 2>"$work/out/stop.err"
stop_rc=$?
s1=$(now)
stop_ms=$(ms_since "$s0" "$s1")
wait_ok stop 50 "$s1"
stop_load stop
analyze stop "$s0" "$s1"
[ -s "$work/out/stop.err" ] && note "systemctl stop: $(xargs <"$work/out/stop.err")"
stop_log=$(ns journalctl -u durin.service --after-cursor="$cursor" -o cat --no-pager)
note "stop time: $stop_ms ms (systemctl stop durin.service under load; TimeoutStopSec=$(prop durin.service TimeoutStopUSec))"
note "stop load: $total requests, $ok200 200s; in flight at the stop: $inflight ($inflight_fail failed); sent after the stop returned: $late ($late_fail failed); failure codes: ${fail_codes:-none}; longest time without a 200: $no200_ms ms"
expect "stop: systemctl stop succeeded" 0 "$stop_rc"
[ "$stop_ms" -lt 5000 ] && ok "stop: durin stopped within TimeoutStopSec (5 s): $stop_ms ms" || nok "stop: took $stop_ms ms"
if echo "$stop_log" | grep -qE 'timed out|Killing process|SIGKILL|status=9/KILL'; then
    nok "stop: systemd had to kill durin: $(echo "$stop_log" | grep -E 'timed out|Killing|KILL' | head -3 | xargs)"
else
    ok "stop: durin exited on SIGTERM by itself (no timeout, no SIGKILL)"
fi
if echo "$stop_log" | grep -qE 'Deactivated successfully|Main process exited, code=exited, status=0'; then
    ok "stop: durin's main process exited with status 0"
else
    nok "stop: no clean exit in the journal: $(echo "$stop_log" | grep durin.service | head -5 | xargs)"
fi
# Requests accepted before the stop are finished by the old process; requests that
# arrive while it stops wait in durin.socket's backlog and are answered by the
# instance the socket activates: nothing fails.
expect "stop: no failures among requests sent before the stop" 0 "$before_fail"
expect "stop: no failures among requests in flight during the stop" 0 "$inflight_fail"
expect "stop: no failures among requests sent after the stop (socket activation)" 0 "$late_fail"
sctl start durin.service
expect "stop: durin.service active again after systemctl start" active "$(sctl is-active durin.service)"
read -r n_after pid_after _ _ <<<"$(durin_state)"
[ "$pid_after" != "$pid_before" ] && ok "stop: a new durin process serves" || nok "stop: MainPID unchanged ($pid_after)"
note "NRestarts after the manual stop and start: $n_after (was $n_before)"
# A manual stop/start is not an automatic restart: systemd resets the counter then.
if [ "$n_after" = "$n_before" ] || [ "$n_after" = 0 ]; then
    ok "stop: the manual stop/start added no automatic restart (NRestarts $n_before -> $n_after)"
else
    nok "stop: NRestarts $n_before -> $n_after"
fi
expected_restarts=$n_after
check_durin "after stop/start"

# --- 9. Redis restarts and a Redis SIGKILL: durin recovers without a restart --------

read -r _ durin_pid _ _ <<<"$(durin_state)"

# 9a. systemctl restart redis-server under load on verify/.
login bob web; tok_a=$token
[ -n "$tok_a" ] || fatal "login bob failed ($code $body)"
run_load redis-restart /api/auth/verify/ "$tok_a"
wait_ok redis-restart 50 0
r0=$(now)
sctl restart redis-server.service
r1=$(now)
wait_for 10 redis_ready
wait_ok redis-restart 50 "$r1"
stop_load redis-restart
analyze redis-restart "$r0" "$r1"
note "redis restart: $total requests on verify/, $ok200 200s, failures: ${fail_codes:-none}; longest time without a 200: $no200_ms ms"
expect "redis restart: verify/ answers 200 again" 200 "$(status_of GET /api/auth/verify/ "$tok_a")"
other_codes=$(echo "$fail_codes" | tr ',' '\n' | grep -v '^503:' | xargs)
expect "redis restart: verify/ answers only 200 or 503 while Redis restarts (no 500, 502, 401)" "" "$other_codes"
if [ -n "$other_codes" ]; then
    note "durin's journal during the Redis restart: $(ns journalctl -u durin.service --since "@${r0%.*}" -o cat --no-pager | grep -c 'LOADING') errors naming Redis's -LOADING reply (Redis loads its AOF before it serves)"
fi
expect "redis restart: durin was not restarted (same MainPID)" "$durin_pid" "$(prop durin.service MainPID)"
check_durin "after redis restart"

# 9b. Redis stopped: verify/ is 503 with durin's JSON; back at the first request after start.
sctl stop redis-server.service
req GET /api/auth/verify/ "$tok_a"
expect "redis down: verify/ answers 503" 503 "$code"
expect "redis down: the 503 carries durin's JSON detail" "Token store unavailable." "$(json detail)"
expect "redis down: the 503 has Retry-After: 1" 1 "$(tr -d '\r' <"$work/out/headers" | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')"
req GET /api/ping/ "$tok_a"
expect "redis down: a protected location answers 503 (JSON)" "503 Token store unavailable." "$code $(json detail)"
req POST /api/auth/login/ "" '{"username":"alice","password":"pw-alice","client":"cli"}'
expect "redis down: login/ answers 503" 503 "$code"
sctl start redis-server.service
wait_for 10 redis_ready
expect "redis back: the first verify/ after it answers 200" 200 "$(status_of GET /api/auth/verify/ "$tok_a")"
expect "redis stop/start: durin was not restarted (same MainPID)" "$durin_pid" "$(prop durin.service MainPID)"
check_durin "after redis stop/start"

# 9c. SIGKILL of redis-server: a token issued and a logout made >= 1 s before it
# survive (appendfsync everysec); systemd restarts Redis (Restart=always). A test-only
# drop-in stretches RestartSec so that the outage can be observed: 5 s, far more
# than the few requests made meanwhile take on a slow machine.
nsh "mkdir -p /etc/systemd/system/redis-server.service.d && printf '[Service]\nRestartSec=5s\n' > /etc/systemd/system/redis-server.service.d/durin-test.conf"
sctl daemon-reload
login bob mobile; tok_keep=$token
login alice cli; tok_gone=$token
[ -n "$tok_keep" ] && [ -n "$tok_gone" ] || fatal "logins before the Redis kill failed ($code $body)"
expect "redis kill: logout/ of a second token before the kill" 204 "$(status_of POST /api/auth/logout/ "$tok_gone")"
sleep 1.5
redis_n_before=$(prop redis-server.service NRestarts)
redis_pid=$(prop redis-server.service MainPID)
ns kill -9 "$redis_pid"
redis_down() { ! redis_ready; }
wait_for 5 redis_down
req GET /api/auth/verify/ "$tok_keep"
expect "redis killed: verify/ answers 503 with durin's JSON while Redis is down" "503 Token store unavailable." "$code $(json detail)"
if [ "$redis_restart_mode" = always ] || [ "$redis_restart_mode" = on-failure ] || [ "$redis_restart_mode" = on-abnormal ]; then
    redis_restarted() { [ "$(prop redis-server.service NRestarts)" = "$1" ]; }
    wait_for 15 redis_restarted "$((redis_n_before + 1))"
    expect "redis killed: systemd restarted redis-server (Restart=$redis_restart_mode)" "$((redis_n_before + 1))" "$(prop redis-server.service NRestarts)"
else
    note "redis-server.service has Restart=$redis_restart_mode: starting it again with systemctl"
    sctl start redis-server.service
fi
redis_replaced() { [ "$(sctl is-active redis-server.service)" = active ] && [ "$(prop redis-server.service MainPID)" != "$1" ] && redis_ready; }
wait_for 10 redis_replaced "$redis_pid" || nok "redis killed: redis-server did not come back"
expect "redis killed: redis-server.service active with a new MainPID" "active yes" \
    "$(sctl is-active redis-server.service) $([ "$(prop redis-server.service MainPID)" != "$redis_pid" ] && echo yes || echo no)"
expect "redis killed: the first verify/ after Redis is back answers 200 (token issued 1.5 s before the kill)" 200 \
    "$(status_of GET /api/auth/verify/ "$tok_keep")"
expect "redis killed: the token logged out 1.5 s before the kill stays revoked" 401 "$(status_of GET /api/auth/verify/ "$tok_gone")"
expect "redis killed: the earlier tokens still verify" "200 200" \
    "$(status_of GET /api/auth/verify/ "$tok_a") $(status_of GET /api/ping/ "$tok_mobile")"
expect "redis killed: durin was not restarted (same MainPID)" "$durin_pid" "$(prop durin.service MainPID)"
login bob cli
expect "redis killed: a new login works afterwards" "200 yes" "$code $([ -n "$token" ] && echo yes || echo no)"
nsh "rm -rf /etc/systemd/system/redis-server.service.d"
sctl daemon-reload
check_durin "after redis SIGKILL"

# --- metrics and durinctl check ---------------------------------------------------
# The example site exposes metrics/ at /internal/durin/metrics to loopback only; the
# counters are this durin process's (it was last started in step 8): its Redis
# outages above must show as errors, its logins and verifications as requests.
req GET /internal/durin/metrics
expect "metrics: /internal/durin/metrics answers 200" 200 "$code"
printf '%s' "$body" > "$work/out/metrics.txt"
metric() {  # metric NAME_WITH_LABELS: its value, as parsed by prometheus_client
    /usr/bin/python3 - "$work/out/metrics.txt" "$1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
want = sys.argv[2]
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        if s.name + ("{" + labels + "}" if labels else "") == want:
            print(int(s.value)); sys.exit(0)
print(0)
PY
}
if /usr/bin/python3 -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p; list(p(open(sys.argv[1]).read()))' \
    "$work/out/metrics.txt" 2>"$work/out/metrics-parse.log"; then
    ok "metrics: the exposition parses (prometheus_client)"
else
    nok "metrics: the exposition does not parse: $(head -3 "$work/out/metrics-parse.log")"
fi
[ "$(metric 'durin_requests_total{route="verify",status="200"}')" -gt 0 ] && ok "metrics: verify/ 200s are counted" \
    || nok "metrics: no verify/ 200 counted"
[ "$(metric 'durin_requests_total{route="login",status="200"}')" -gt 0 ] && ok "metrics: logins are counted" \
    || nok "metrics: no login counted"
[ "$(metric 'durin_redis_errors_total')" -gt 0 ] && ok "metrics: the Redis outages show as errors ($(metric durin_redis_errors_total))" \
    || nok "metrics: no Redis error counted across the outages"
[ "$(metric 'durin_password_hash_duration_seconds_count')" -gt 0 ] && ok "metrics: password checks are timed" \
    || nok "metrics: no password check timed"
expect "metrics: not answered under the API mount" 404 "$(status_of GET /api/auth/metrics/)"

# The README's last step: durinctl check passes on this installation.
if ctl check >"$work/out/check.log" 2>&1; then
    ok "durinctl check passes on the installed, configured host"
else
    nok "durinctl check fails:"; sed 's/^/#   /' "$work/out/check.log"
fi

# --- 10 and 11. over the whole run ---------------------------------------------------

durin_log=$(ns journalctl -u durin.service --no-pager -o cat)
expect "journal: durin never ended with SIGSYS (status=31/SYS)" 0 "$(echo "$durin_log" | grep -c 'status=31/SYS')"
expect "journal: exactly one unexpected end of durin (the SIGKILL of step 7)" 1 \
    "$(echo "$durin_log" | grep -c 'Main process exited, code=killed')"
expect "ExecMainStatus was never 31 (SIGSYS) at any step" 0 "$sigsys_seen"
expect "durin NRestarts at the end is still $expected_restarts (the count after the manual start of step 8)" "$expected_restarts" "$(restarts)"

# --- upgrade path: the package installed again over itself ------------------------------
# The postinst then restarts durin.socket and durin.service and keeps the env file.

env_before=$(ns sha256sum /etc/durin/durin.env)
read -r _ pid_before _ _ <<<"$(durin_state)"
if ns dpkg -i /run/durin-test/files/durin.deb >"$work/out/dpkg-reinstall.log" 2>&1; then
    ok "upgrade: dpkg -i over the installed package"
else
    sed 's/^/#   /' "$work/out/dpkg-reinstall.log"; nok "upgrade: dpkg -i over the installed package failed"
fi
expect "upgrade: /etc/durin/durin.env kept as it was (secret and edits)" "$env_before" "$(ns sha256sum /etc/durin/durin.env)"
expect "upgrade: durin.socket and durin.service enabled and active" "enabled enabled active active" \
    "$(sctl is-enabled durin.socket durin.service | xargs) $(sctl is-active durin.socket durin.service | xargs)"
read -r _ pid_after _ _ <<<"$(durin_state)"
[ "$pid_after" != "$pid_before" ] && ok "upgrade: durin was restarted with the new binary" || nok "upgrade: durin was not restarted (MainPID $pid_after)"
expect "upgrade: tokens issued before still verify" 200 "$(status_of GET /api/auth/verify/ "$tok_keep")"
n_up=$(restarts)
if [ "$n_up" = "$expected_restarts" ] || [ "$n_up" = 0 ]; then
    ok "upgrade: the restart by the postinst is no automatic restart (NRestarts $expected_restarts -> $n_up)"
else
    nok "upgrade: NRestarts $expected_restarts -> $n_up"
fi
expected_restarts=$n_up
check_durin "after upgrade"

# --- 12. purge ------------------------------------------------------------------------

if ns dpkg --purge durin >"$work/out/dpkg-purge.log" 2>&1; then
    ok "dpkg --purge durin"
else
    sed 's/^/#   /' "$work/out/dpkg-purge.log"; nok "dpkg --purge durin failed"
fi
no_durin_process() { [ -z "$(ns pgrep -x durin-fcgi)" ]; }
wait_for 5 no_durin_process
expect "purge: no durin-fcgi process" "" "$(ns pgrep -x durin-fcgi | xargs)"
expect "purge: durin.service inactive" inactive "$(sctl is-active durin.service)"
expect "purge: durin.socket inactive" inactive "$(sctl is-active durin.socket)"
expect "purge: /run/durin/durin.sock is gone" no "$(ns test -e /run/durin/durin.sock && echo yes || echo no)"
expect "purge: /etc/durin/durin.env (the secrets) is gone" no "$(ns test -e /etc/durin/durin.env && echo yes || echo no)"
expect "purge: nginx's proxy-key include is gone" no "$(ns test -e /etc/nginx/durin/proxy-key.conf && echo yes || echo no)"
# The README's steps keep the Redis users' passwords in /etc/durin/redis: Redis still
# has those users, so the operator's files stay, as dpkg leaves every file it did not install.
expect "purge: only the operator's Redis passwords are left in /etc/durin" "redis" "$(ns ls /etc/durin 2>&1 | xargs)"
expect "purge: no unit links left in /etc/systemd/system" "" \
    "$(ns find /etc/systemd/system -name 'durin.*' | xargs)"
expect "purge: the package is gone from dpkg's database" "" "$(ns dpkg-query -W -f '${Status}' durin 2>/dev/null)"
expect "purge: /usr/bin/durin-fcgi is gone" no "$(ns test -e /usr/bin/durin-fcgi && echo yes || echo no)"

if [ "$failed" -gt 0 ]; then ns_journal; fi
# teardown (the EXIT trap) ends the namespace, checks the host and prints the summary.
