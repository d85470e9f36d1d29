# Sourced by Tests/systemd/run.sh: SIGKILL under load: systemd restarts durin.

# --- 7. SIGKILL under load: systemd restarts durin --------------------------------

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
