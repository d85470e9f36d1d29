# Sourced by Tests/systemd/run.sh: the operator console at the example site's /durin/console/.

# --- the console, as the package and the example site ship it ------------------------

printf '%s\n' 'pw-ops' | ctl user add ops --password-stdin --staff >/dev/null
req GET /durin/console/
expect "console: the page at the example site's /durin/console/" 200 "$code"
if grep -qi "^content-security-policy: default-src 'none'" "$work/out/headers"; then
    ok "console: the page carries its Content-Security-Policy"
else
    nok "console: no Content-Security-Policy on the page"
fi
# What the page's script sends to sign in: JSON from its own origin.
console_post() {
    code=$(curl -s --noproxy '*' --max-time 30 -o "$work/out/body" -D "$work/out/headers" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H "Origin: $base" -H 'Sec-Fetch-Site: same-origin' "$@")
    body=$(cat "$work/out/body")
}
console_post --data '{"username":"ops","password":"pw-ops"}' "$base/durin/console/api/session"
expect "console: a staff user signs in" 200 "$code"
cookie=$(tr -d '\r' < "$work/out/headers" | sed -n 's/^[Ss]et-[Cc]ookie: \(durin_console=[^;]*\);.*/\1/p')
code=$(curl -s --noproxy '*' --max-time 30 -o "$work/out/body" -w '%{http_code}' -H "Cookie: $cookie" "$base/durin/console/api/me")
expect "console: its cookie opens the console" 200 "$code"
expect "console: its session is one of the console client's, as durinctl lists them" 1 \
    "$(ctl token list --user ops --client console | grep -c console)"
console_post --data '{"username":"alice","password":"pw-alice"}' "$base/durin/console/api/session"
expect "console: a user who is not staff is refused" 403 "$code"
