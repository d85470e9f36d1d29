# Sourced by Tests/systemd/run.sh: Redis restarts and a Redis SIGKILL: durin recovers without a restart.

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
# Deliberately a wait for time to pass, not a poll: appendfsync everysec syncs the
# append-only file once a second, and what this checks is that writes made 1.5 s
# before a crash survive it.
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
