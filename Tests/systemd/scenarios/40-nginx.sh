# Sourced by Tests/systemd/run.sh: nginx serving the example site on a free loopback port.

# --- 5. nginx with the example site on a free loopback port ------------------------

port_free() { [ -z "$(ss -ltnH "sport = :$1")" ]; }
port=${DURIN_TEST_PORT:-}
if [ -z "$port" ]; then
    for _ in $(seq 1 50); do
        p=$((18000 + RANDOM % 1000))
        if port_free "$p"; then port=$p; break; fi
    done
fi
[ -n "$port" ] && port_free "$port" || fatal "no free loopback port for nginx (DURIN_TEST_PORT=$port)"
nsh "set -e
    ln -sf /etc/nginx/sites-available/durin /etc/nginx/sites-enabled/durin
    rm -f /etc/nginx/sites-enabled/default
    sed -i -e 's/^\([[:space:]]*\)listen 80;/\1listen 127.0.0.1:$port;/' \
        -e 's/^\([[:space:]]*\)listen 80 default_server;/\1listen 127.0.0.1:$port default_server;/' /etc/nginx/sites-available/durin
    grep -q 'listen 127.0.0.1:$port;' /etc/nginx/sites-available/durin
    grep -q 'listen 127.0.0.1:$port default_server;' /etc/nginx/sites-available/durin" || fatal "could not enable the example site"
if ! ns nginx -t -q >"$work/out/nginx-t.log" 2>&1; then
    sed 's/^/#   /' "$work/out/nginx-t.log"; fatal "nginx -t rejects the example site"
fi
sctl restart nginx.service || { ns journalctl -u nginx -n 20 --no-pager | sed 's/^/#   /'; fatal "nginx.service did not start"; }
base="http://127.0.0.1:$port"
wait_for 10 curl -s --noproxy '*' -o /dev/null "$base/" || fatal "nginx does not answer on $base"
ok "nginx.service serves the example site on 127.0.0.1:$port"
# Any other name (DNS rebinding, a stray CNAME) gets no answer at all: nginx's 444.
rebound=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H 'Host: rebind.example' "$base/durin/console/" || true)
[ "$rebound" = 000 ] || fatal "the example site answered another name ($rebound), not 444"
ok "the example site closes requests for any other name without an answer (444)"
