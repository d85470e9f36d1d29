# Sourced by Tests/systemd/run.sh: systemd runs as PID 1 of the namespace.

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
