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
