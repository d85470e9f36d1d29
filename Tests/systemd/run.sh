#!/usr/bin/env bash
# End-to-end test of the Debian package under a real systemd (`make test-systemd`):
# this file sets the namespace up, lib.sh holds the helpers, and scenarios/*.sh run
# in order, each one step of an operator's life with the package.
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

# Helpers; then each scenario in order, in this one shell (they share its state:
# tokens, pids, the port).
. "$here/lib.sh"
trap teardown EXIT
trap 'exit 130' INT TERM

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

for scenario in "$here"/scenarios/*.sh; do
    . "$scenario"
done

if [ "$failed" -gt 0 ]; then ns_journal; fi
# teardown (the EXIT trap) ends the namespace, checks the host and prints the summary.
