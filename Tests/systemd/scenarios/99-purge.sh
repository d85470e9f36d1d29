# Sourced by Tests/systemd/run.sh: dpkg --purge: nothing of durin is left.

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
