#!/usr/bin/env bash
# Apache with mod_auth_openidc in front of durin's introspect/ (`make test-apache`,
# part of `make test`): Debian's Apache 2.4 and module, configured with the README's
# own lines (read from README.md, only the endpoint and the key rewritten for a
# stack of its own, scripts/devstack.sh), protecting a directory of static files.
#
#   Tests/apache/run.sh      (needs apache2, libapache2-mod-auth-openidc, python3; a debug build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
modules=/usr/lib/apache2/modules
for need in /usr/sbin/apache2 "$modules/mod_auth_openidc.so"; do
    [ -e "$need" ] || { echo "apache tests: install apache2 libapache2-mod-auth-openidc (no $need)" >&2; exit 1; }
done

. "$root/Tests/lib/stack.sh"
apache_port=$(free_port) tls_port=$(free_port)
stop_own() { [ -s "$state/apache/apache.pid" ] && kill "$(cat "$state/apache/apache.pid")" 2>/dev/null; }
start_stack
ctl client add web >/dev/null
ctl client add mobile --ttl 30d >/dev/null
printf '%s\n' 'ann-pw' | ctl user add ann --password-stdin >/dev/null
key=$(ctl issuer add gateway --clients web,mobile)

# The README's lines: the first ```apache block after "Apache mod_auth_openidc:".
readme_lines=$(awk '/^Apache mod_auth_openidc:/ { found = 1 } found && /^```apache/ { inside = 1; next }
                    inside && /^```/ { exit } inside { print }' "$root/README.md")
grep -q '^OIDCOAuthIntrospectionEndpoint ' <<<"$readme_lines" || { echo "apache tests: no Apache lines in README.md" >&2; exit 1; }

a=$state/apache
mkdir -p "$a/htdocs/reports"
# mod_auth_openidc introspects over HTTPS only: the stack's nginx serves the API with
# TLS too, under a certificate for 127.0.0.1 that Apache is told to trust.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$a/tls.key" -out "$a/tls.crt" >/dev/null 2>&1
cat >> "$state/nginx/site.conf" <<CONF
server {
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $a/tls.crt;
    ssl_certificate_key $a/tls.key;
    include $state/nginx/durin/durin-server.conf;
    location /api/auth/ {
        fastcgi_split_path_info ^(/api/auth)(/.*)\$;
        include $state/nginx/durin/durin-api.conf;
        fastcgi_pass durin;
    }
}
CONF
nginx -p "$state/nginx" -c "$state/nginx/nginx.conf" -s reload 2>/dev/null
for _ in $(seq 1 100); do curl -s --cacert "$a/tls.crt" -o /dev/null "https://127.0.0.1:$tls_port/api/auth/ready/" && break; sleep 0.1; done
printf 'the report\n' > "$a/htdocs/reports/index.html"
# Apache's children run as www-data: they read the files, and nothing else of the state.
chmod 755 "$state" "$a" "$a/htdocs" "$a/htdocs/reports"
{
    cat <<CONF
ServerRoot "$a"
DefaultRuntimeDir "$a"
PidFile "$a/apache.pid"
ErrorLog "$a/error.log"
LogLevel warn auth_openidc:info
Listen 127.0.0.1:$apache_port
ServerName 127.0.0.1
User www-data
Group www-data
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authn_core_module $modules/mod_authn_core.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_user_module $modules/mod_authz_user.so
LoadModule headers_module $modules/mod_headers.so
LoadModule dir_module $modules/mod_dir.so
LoadModule auth_openidc_module $modules/mod_auth_openidc.so
DocumentRoot "$a/htdocs"
<Directory "$a/htdocs">
    Require all granted
</Directory>
DirectoryIndex index.html
# Which user Apache settled on, for the test to read.
Header always set X-Remote-User "expr=%{REMOTE_USER}"
OIDCCABundlePath $a/tls.crt
CONF
    sed -e "s#https://auth.example.com/#https://127.0.0.1:$tls_port/#" -e "s#<the issuer key>#$key#" <<<"$readme_lines"
} > "$a/apache.conf"
grep -q "OIDCOAuthClientSecret $key" "$a/apache.conf" || { echo "apache tests: the README's key line was not rewritten" >&2; exit 1; }
/usr/sbin/apache2 -t -f "$a/apache.conf" >"$a/configtest.log" 2>&1 || { cat "$a/configtest.log" >&2; exit 1; }
/usr/sbin/apache2 -f "$a/apache.conf" -k start
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$apache_port/" && break; sleep 0.1; done

export APACHE_PORT=$apache_port DURIN_PORT=$port ISSUER_KEY=$key
cd "$root/Tests/apache" && python3 -m unittest -v apache_test 2>&1 || { tail -30 "$a/error.log" >&2; exit 1; }
