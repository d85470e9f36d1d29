# Sourced by Tests/systemd/run.sh: systemctl stop under load.

# --- 8. systemctl stop under load --------------------------------------------------

read -r n_before pid_before _ _ <<<"$(durin_state)"
cursor=$(ns journalctl -u durin.service -n 1 --show-cursor -o cat --no-pager | sed -n 's/^-- cursor: //p')
run_load stop /api/ping/ "$tok_web"
wait_ok stop 100 0
s0=$(now)
sctl stop durin.service 2>"$work/out/stop.err"
stop_rc=$?
s1=$(now)
stop_ms=$(ms_since "$s0" "$s1")
wait_ok stop 50 "$s1"
stop_load stop
analyze stop "$s0" "$s1"
[ -s "$work/out/stop.err" ] && note "systemctl stop: $(xargs <"$work/out/stop.err")"
stop_log=$(ns journalctl -u durin.service --after-cursor="$cursor" -o cat --no-pager)
note "stop time: $stop_ms ms (systemctl stop durin.service under load; TimeoutStopSec=$(prop durin.service TimeoutStopUSec))"
note "stop load: $total requests, $ok200 200s; in flight at the stop: $inflight ($inflight_fail failed); sent after the stop returned: $late ($late_fail failed); failure codes: ${fail_codes:-none}; longest time without a 200: $no200_ms ms"
expect "stop: systemctl stop succeeded" 0 "$stop_rc"
[ "$stop_ms" -lt 5000 ] && ok "stop: durin stopped within TimeoutStopSec (5 s): $stop_ms ms" || nok "stop: took $stop_ms ms"
if echo "$stop_log" | grep -qE 'timed out|Killing process|SIGKILL|status=9/KILL'; then
    nok "stop: systemd had to kill durin: $(echo "$stop_log" | grep -E 'timed out|Killing|KILL' | head -3 | xargs)"
else
    ok "stop: durin exited on SIGTERM by itself (no timeout, no SIGKILL)"
fi
if echo "$stop_log" | grep -qE 'Deactivated successfully|Main process exited, code=exited, status=0'; then
    ok "stop: durin's main process exited with status 0"
else
    nok "stop: no clean exit in the journal: $(echo "$stop_log" | grep durin.service | head -5 | xargs)"
fi
# Requests accepted before the stop are finished by the old process; requests that
# arrive while it stops wait in durin.socket's backlog and are answered by the
# instance the socket activates: nothing fails.
expect "stop: no failures among requests sent before the stop" 0 "$before_fail"
expect "stop: no failures among requests in flight during the stop" 0 "$inflight_fail"
expect "stop: no failures among requests sent after the stop (socket activation)" 0 "$late_fail"
sctl start durin.service
expect "stop: durin.service active again after systemctl start" active "$(sctl is-active durin.service)"
read -r n_after pid_after _ _ <<<"$(durin_state)"
[ "$pid_after" != "$pid_before" ] && ok "stop: a new durin process serves" || nok "stop: MainPID unchanged ($pid_after)"
note "NRestarts after the manual stop and start: $n_after (was $n_before)"
expect_no_automatic_restart "stop: the manual stop/start" "$n_before" "$n_after"
expected_restarts=$n_after
check_durin "after stop/start"
