# Sourced by Tests/systemd/run.sh: browser sessions, the sign-in page and identity
# assertions on the package and its example site (/app/, /app/signed/).

# --- a cookie client's login, the sign-in page, the page by cookie ---------------------

ctl client add browser --cookie >/dev/null
expect "browser: durinctl marks a client for browsers" "cookie" "$(ctl client list | awk '$1 == "browser" { print $NF }')"
req GET /app/
expect "browser: a page without a session sends the browser to sign in" 302 "$code"
expect "browser: ... to the sign-in page, with the way back" "/api/auth/signin/?next=%2Fapp%2F" \
    "$(tr -d '\r' < "$work/out/headers" | sed -n 's#^[Ll]ocation: \(https\?://[^/]*\)\?##p')"
req GET "/api/auth/signin/?next=%2Fapp%2F"
expect "browser: the sign-in page" 200 "$code"
expect "browser: ... with its way back" 1 "$(grep -c 'data-next="/app/"' "$work/out/body")"
code=$(curl -s --noproxy '*' --max-time 30 -o "$work/out/body" -D "$work/out/headers" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "Origin: $base" \
    --data '{"username":"alice","password":"pw-alice","client":"browser"}' "$base/api/auth/login/")
expect "browser: a cookie client's login" 200 "$code"
expect "browser: ... shows no token" "" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("token") or "")' "$work/out/body")"
session=$(tr -d '\r' < "$work/out/headers" | sed -n 's/^[Ss]et-[Cc]ookie: \(durin_session=[^;]*\);.*/\1/p')
expect "browser: ... and sets an HttpOnly cookie" 1 "$(grep -ci '^set-cookie: durin_session=.*HttpOnly' "$work/out/headers")"
code=$(curl -s --noproxy '*' --max-time 30 -o "$work/out/body" -w '%{http_code}' -H "Cookie: $session" "$base/app/")
expect "browser: the cookie opens the page" 200 "$code"
expect "browser: ... which names its user" 1 "$(grep -c 'Signed in as alice' "$work/out/body")"
code=$(curl -s --noproxy '*' --max-time 30 -o /dev/null -w '%{http_code}' -H "Cookie: $session" "$base/app/logo.svg")
expect "browser: ... and its image" 200 "$code"
code=$(curl -s --noproxy '*' --max-time 30 -o /dev/null -w '%{http_code}' -X POST -H "Cookie: $session" \
    -H 'Origin: https://evil.example' "$base/app/page")
expect "browser: a POST by cookie from another origin is refused" 403 "$code"

# --- identity assertions ---------------------------------------------------------------

login alice web
code=$(curl -s --noproxy '*' --max-time 30 -o "$work/out/body" -w '%{http_code}' -H "Authorization: Token $token" "$base/app/signed/q")
expect "assertion: a location with \$durin_assertion on" 200 "$code"
assertion=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["assertion"])' "$work/out/body")
kid=$(python3 -c 'import base64,json,sys; h=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$assertion")
req GET /api/auth/jwks.json
expect "assertion: jwks.json publishes the key that signed it" "$kid" \
    "$(python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.loads(sys.argv[1])["keys"]))' "$body")"
expect "assertion: durinctl names the same key" 1 "$(ctl assertion-key list | grep -c "^$kid"$'\t'".*signs")"
expect "redis: durin-inspect cannot read the signing keys" NOPERM \
    "$(redis_as durin-inspect hgetall durin:secret:assertion-keys 2>&1 | grep -o NOPERM | head -1)"
