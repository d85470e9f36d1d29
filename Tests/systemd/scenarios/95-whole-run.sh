# Sourced by Tests/systemd/run.sh: Over the whole run: no SIGSYS, the expected restarts.

# --- 10 and 11. over the whole run ---------------------------------------------------

durin_log=$(ns journalctl -u durin.service --no-pager -o cat)
expect "journal: durin never ended with SIGSYS (status=31/SYS)" 0 "$(echo "$durin_log" | grep -c 'status=31/SYS')"
expect "journal: exactly one unexpected end of durin (the SIGKILL of step 7)" 1 \
    "$(echo "$durin_log" | grep -c 'Main process exited, code=killed')"
expect "ExecMainStatus was never 31 (SIGSYS) at any step" 0 "$sigsys_seen"
expect "durin NRestarts at the end is still $expected_restarts (the count after the manual start of step 8)" "$expected_restarts" "$(restarts)"
