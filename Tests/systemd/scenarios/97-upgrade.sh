# Sourced by Tests/systemd/run.sh: The package installed again over itself.

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
expect_no_automatic_restart "upgrade: the restart by the postinst" "$expected_restarts" "$n_up"
expected_restarts=$n_up
check_durin "after upgrade"

# After an upgrade the README says to run /usr/share/durin/setup-redis again: it keeps
# the passwords (so durin.env's and the redis-cli recipes' stay right), installs the
# release's ACL and settings, and restarts Redis and durin, deliberately.
passwords_before=$(ns sha256sum /etc/durin/redis/durin /etc/durin/redis/durin-inspect /etc/durin/redis/admin)
if ns /usr/share/durin/setup-redis >"$work/out/setup-redis-again.log" 2>&1; then
    ok "upgrade: /usr/share/durin/setup-redis runs again"
else
    sed 's/^/#   /' "$work/out/setup-redis-again.log"; nok "upgrade: /usr/share/durin/setup-redis failed the second time"
fi
expect "upgrade: setup-redis kept the Redis passwords" "$passwords_before" \
    "$(ns sha256sum /etc/durin/redis/durin /etc/durin/redis/durin-inspect /etc/durin/redis/admin)"
wait_for 10 redis_ready || nok "upgrade: Redis does not answer the admin user after setup-redis"
wait_for 10 durin_active || nok "upgrade: durin.service is not active after setup-redis"
expect "upgrade: the env file is still 0640 root:root" "640 root:root" "$(ns stat -c '%a %U:%G' /etc/durin/durin.env)"
ready() { [ "$(status_of GET /api/auth/ready/)" = 200 ]; }
wait_for 10 ready || nok "upgrade: ready/ does not answer 200 after setup-redis"
expect "upgrade: tokens issued before still verify after setup-redis" 200 "$(status_of GET /api/auth/verify/ "$tok_keep")"
n_again=$(restarts)
expect_no_automatic_restart "upgrade: setup-redis's restart of durin" "$expected_restarts" "$n_again"
expected_restarts=$n_again
check_durin "after setup-redis again"
