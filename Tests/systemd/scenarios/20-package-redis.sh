# Sourced by Tests/systemd/run.sh: The package, then Redis and durin configured by the README's step 1.

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
shipped=$(dpkg-deb -c "$work/files/durin.deb" | awk '{ print $6 }')
for f in ./usr/share/man/man1/durinctl.1.gz ./usr/share/bash-completion/completions/durinctl \
         ./usr/share/zsh/vendor-completions/_durinctl; do
    echo "$shipped" | grep -qx "$f" && ok "the package ships ${f#.}" || nok "the package lacks ${f#.}"
done
expect "man durinctl opens the installed page" "DURINCTL(1)" \
    "$(ns bash -c 'MANPAGER=cat man durinctl 2>/dev/null' | grep -o 'DURINCTL(1)' | head -1)"

# Step 1 of the README's deployment block: the script the package installs, as the
# README calls it.
grep -qx '/usr/share/durin/setup-redis' "$root/README.md" || fatal "README: step 1 no longer calls /usr/share/durin/setup-redis"
echo "$shipped" | grep -qx ./usr/share/durin/setup-redis && ok "the package ships /usr/share/durin/setup-redis" \
    || nok "the package lacks /usr/share/durin/setup-redis"
if ! ns /usr/share/durin/setup-redis >"$work/out/setup-redis.log" 2>&1; then
    sed 's/^/#   /' "$work/out/setup-redis.log"
    fatal "the README's step 1 (/usr/share/durin/setup-redis) failed"
fi
ok "the README's step 1 ran: /usr/share/durin/setup-redis"
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
# A deliberate restart (systemctl stop/start, the postinst's restart) is no automatic
# restart: systemd leaves NRestarts alone or resets it to 0 then.
expect_no_automatic_restart() {
    local what=$1 before=$2 after=$3
    if [ "$after" = "$before" ] || [ "$after" = 0 ]; then
        ok "$what is no automatic restart (NRestarts $before -> $after)"
    else
        nok "$what: NRestarts $before -> $after"
    fi
}
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
