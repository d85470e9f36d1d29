#!/usr/bin/env bash
# PID 1 of Tests/systemd/run.sh's private PID, mount, UTS and IPC namespaces: makes
# every tree the test writes private, then becomes systemd.
#
#   ns-init.sh WORK        (WORK: the test's scratch directory on the host)
#
# Nothing done here or by anything started later reaches the host: /run, /tmp,
# /var/tmp, /dev, /etc/systemd/system and /var/log/journal are fresh tmpfs; /usr,
# /etc, /var and /root are overlays whose upper layers live on a tmpfs that is
# hidden once /tmp is covered; /sys and /proc/sys are read-only, /sys/fs/cgroup is
# the test's own cgroup2 subtree, and the units that touch the kernel, devices,
# swap, the clock or the host's file systems are masked.
set -euo pipefail
work=$1

# The test's files stay reachable at /run/durin-test (WORK itself, under the
# host's /tmp, disappears below the private /tmp).
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir /run/durin-test
mount --bind "$work" /run/durin-test

# Overlays over every tree dpkg, redis, nginx and systemd write to.
mount -t tmpfs -o mode=0700 tmpfs "$work/layers"
for d in usr etc var root lib lib32 lib64 libx32 bin sbin; do
    # Merged /usr: /lib, /bin, /sbin are symlinks into the /usr overlay.
    if [ -d "/$d" ] && [ ! -L "/$d" ]; then
        mkdir -p "$work/layers/$d/upper" "$work/layers/$d/work"
        mount -t overlay overlay \
            -o "lowerdir=/$d,upperdir=$work/layers/$d/upper,workdir=$work/layers/$d/work" "/$d"
    fi
done

# cgroups: only a cgroup2 file system rooted at this namespace's cgroup (run.sh made
# a dedicated one, and this runs in a cgroup namespace), so systemd runs in unified
# mode inside that subtree and never sees, mounts or remounts the host's hierarchies
# (in hybrid mode it would remount the host's /sys/fs/cgroup tmpfs read-only).
mkdir "$work/layers/cgroup"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$work/layers/cgroup"
umount -R /sys/fs/cgroup 2>/dev/null || umount -R -l /sys/fs/cgroup
mount --move "$work/layers/cgroup" /sys/fs/cgroup

# Private scratch trees, before systemd runs (Debian's tmpfiles.d has `D /tmp`).
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
# No host unit is enabled here (hides /etc/systemd/system/*.wants), and the journal is private.
mkdir -p /etc/systemd/system /var/log/journal
mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system
mount -t tmpfs -o mode=2755 tmpfs /var/log/journal

# A private /dev with the usual nodes: nothing here creates or changes a host device node.
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
mknod -m 0666 /dev/null c 1 3
mknod -m 0666 /dev/zero c 1 5
mknod -m 0666 /dev/full c 1 7
mknod -m 0666 /dev/random c 1 8
mknod -m 0666 /dev/urandom c 1 9
mknod -m 0666 /dev/tty c 5 0
# systemd's status output goes nowhere (the journal has it all).
mknod -m 0600 /dev/console c 1 3
mkdir /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr

# Kernel settings stay the host's (as systemd-nspawn does it); cgroups stay writable.
mount -o remount,bind,ro /sys
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
if [ -e /proc/sysrq-trigger ]; then
    mount --bind /proc/sysrq-trigger /proc/sysrq-trigger
    mount -o remount,bind,ro /proc/sysrq-trigger
fi

# The test's own target pulls in nothing; services started later pull in
# sysinit.target and basic.target, minus what is masked here.
cat > /etc/systemd/system/durin-test.target <<'UNIT'
[Unit]
Description=durin systemd test (Tests/systemd/run.sh)
UNIT
for u in \
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
    systemd-sysctl.service procps.service systemd-modules-load.service kmod-static-nodes.service \
    systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer \
    systemd-remount-fs.service systemd-fsck-root.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    systemd-random-seed.service systemd-firstboot.service systemd-machine-id-commit.service \
    systemd-pcrphase-sysinit.service systemd-pcrphase.service systemd-repart.service \
    systemd-pstore.service systemd-timesyncd.service systemd-time-wait-sync.service \
    swap.target cryptsetup.target veritysetup.target integritysetup.target timers.target \
    dev-hugepages.mount dev-mqueue.mount sys-fs-fuse-connections.mount sys-kernel-config.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount \
    systemd-ask-password-console.path systemd-ask-password-wall.path \
    getty.target console-getty.service systemd-logind.service dbus.socket dbus.service \
    systemd-journald-audit.socket apparmor.service networking.service systemd-networkd.service \
    systemd-resolved.service ifupdown-wait-online.service systemd-networkd-wait-online.service \
    e2scrub_reap.service; do
    ln -s /dev/null "/etc/systemd/system/$u"
done

# No generators: they turn the host's fstab, crypttab, LVM, GPT partitions and
# consoles into units (/etc/systemd/system-generators/NAME -> /dev/null disables NAME).
mkdir -p /etc/systemd/system-generators
for dir in /usr/lib/systemd/system-generators /lib/systemd/system-generators \
    /usr/local/lib/systemd/system-generators /etc/systemd/system-generators; do
    [ -d "$dir" ] || continue
    for g in "$dir"/*; do
        [ -e "$g" ] || continue
        ln -sfn /dev/null "/etc/systemd/system-generators/$(basename "$g")"
    done
done

# Docker-style images refuse service starts from maintainer scripts (exit 101);
# a real host has no policy-rc.d. Removed in the /usr overlay only.
rm -f /usr/sbin/policy-rc.d

# Without CAP_SYS_MODULE and CAP_SYS_TIME systemd cannot load kernel modules or
# touch the clock or the kernel's time zone, which are not namespaced.
exec setpriv --bounding-set -sys_module,-sys_time,-wake_alarm \
    /lib/systemd/systemd --system --unit=durin-test.target \
    --log-target=journal-or-kmsg --log-level=info --show-status=false
