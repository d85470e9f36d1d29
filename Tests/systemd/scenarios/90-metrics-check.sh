# Sourced by Tests/systemd/run.sh: Metrics, and durinctl check on the installed host.

# --- metrics and durinctl check ---------------------------------------------------
# The example site exposes metrics/ at /internal/durin/metrics to loopback only; the
# counters are this durin process's (it was last started in step 8): its Redis
# outages above must show as errors, its logins and verifications as requests.
req GET /internal/durin/metrics
expect "metrics: /internal/durin/metrics answers 200" 200 "$code"
printf '%s' "$body" > "$work/out/metrics.txt"
metric() {  # metric NAME_WITH_LABELS: its value, as parsed by prometheus_client
    /usr/bin/python3 - "$work/out/metrics.txt" "$1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
want = sys.argv[2]
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        if s.name + ("{" + labels + "}" if labels else "") == want:
            print(int(s.value)); sys.exit(0)
print(0)
PY
}
if /usr/bin/python3 -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p; list(p(open(sys.argv[1]).read()))' \
    "$work/out/metrics.txt" 2>"$work/out/metrics-parse.log"; then
    ok "metrics: the exposition parses (prometheus_client)"
else
    nok "metrics: the exposition does not parse: $(head -3 "$work/out/metrics-parse.log")"
fi
[ "$(metric 'durin_requests_total{route="verify",status="200"}')" -gt 0 ] && ok "metrics: verify/ 200s are counted" \
    || nok "metrics: no verify/ 200 counted"
[ "$(metric 'durin_requests_total{route="login",status="200"}')" -gt 0 ] && ok "metrics: logins are counted" \
    || nok "metrics: no login counted"
[ "$(metric 'durin_redis_errors_total')" -gt 0 ] && ok "metrics: the Redis outages show as errors ($(metric durin_redis_errors_total))" \
    || nok "metrics: no Redis error counted across the outages"
[ "$(metric 'durin_password_hash_duration_seconds_count')" -gt 0 ] && ok "metrics: password checks are timed" \
    || nok "metrics: no password check timed"
expect "metrics: not answered under the API mount" 404 "$(status_of GET /api/auth/metrics/)"

# The README's last step: durinctl check passes on this installation.
if ctl check >"$work/out/check.log" 2>&1; then
    ok "durinctl check passes on the installed, configured host"
else
    nok "durinctl check fails:"; sed 's/^/#   /' "$work/out/check.log"
fi
