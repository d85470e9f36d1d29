# Sourced by Tests/systemd/run.sh: The API through nginx; a login runs the hasher threads.

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
expect "redis: durin-inspect cannot read the sealing secret's key" NOPERM \
    "$(redis_as durin-inspect get durin:secret 2>&1 | grep -o NOPERM | head -1)"
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
