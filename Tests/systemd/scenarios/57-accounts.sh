# Sourced by Tests/systemd/run.sh: accounts on the package: a password change, an
# application's users/, tokens that rotate on refresh, and a second factor (TOTP, its
# codes computed by Python's hmac by RFC 6238).

# --- a user changes their password ------------------------------------------------------

for u in pat quinn tess; do echo "pw-$u" | ctl user add "$u" --password-stdin >/dev/null; done
login pat web
first=$token
login pat mobile
other=$token
req POST /api/auth/password/ "$first" '{"old_password":"wrong","new_password":"pat-new-passphrase"}'
expect "accounts: a wrong old password is refused" 400 "$code"
req POST /api/auth/password/ "$first" '{"old_password":"pw-pat","new_password":"12345678"}'
expect "accounts: the policy refuses a numeric password" 1 "$(echo "$body" | grep -c 'entirely numeric')"
req POST /api/auth/password/ "$first" '{"old_password":"pw-pat","new_password":"pat-new-passphrase"}'
expect "accounts: a password change" 200 "$code"
expect "accounts: ... revokes the other session" 401 "$(status_of GET /api/auth/verify/ "$other")"
expect "accounts: ... keeps its own" 200 "$(status_of GET /api/auth/verify/ "$first")"
req POST /api/auth/login/ "" '{"username":"pat","password":"pat-new-passphrase","client":"web"}'
expect "accounts: the new password logs in" 200 "$code"

# --- an application manages its users ---------------------------------------------------

signup=$(ctl issuer add signup --may users)
gateway=$(ctl issuer add gate --may introspect)
users_call() {  # METHOD PATH KEY [JSON]
    local args=(-s --noproxy '*' --max-time 30 -o "$work/out/body" -w '%{http_code}' -X "$1" -H "Authorization: Issuer $3")
    [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
    code=$(curl "${args[@]}" "$base/api/auth/users/$2")
    body=$(cat "$work/out/body")
}
users_call POST "" "$gateway" '{"username":"newbie","password":"a-good-passphrase"}'
expect "users: a key without users is refused" 403 "$code"
users_call POST "" "$signup" '{"username":"newbie","password":"a-good-passphrase"}'
expect "users: a key with users creates a user" 201 "$code"
req POST /api/auth/login/ "" '{"username":"newbie","password":"a-good-passphrase","client":"web"}'
expect "users: ... who logs in" 200 "$code"
users_call PATCH ops/ "$signup" '{"password":"taken-over-passphrase"}'
expect "users: a staff user is out of its reach" 403 "$code"
users_call DELETE newbie/ "$signup"
expect "users: ... and removes one" 204 "$code"
expect "users: events name the issuer" 1 "$(ctl events --last 20 --json | grep -c '"type":"user_removed".*"issuer":"signup"')"

# --- tokens that rotate on refresh ------------------------------------------------------

ctl client add phone --rotate-on-refresh --reuse-grace 1s >/dev/null
login quinn phone
old=$token
req POST /api/auth/refresh/ "$old"
new=$(json token)
expect "rotation: refresh/ gives a new token" 1 "$([ -n "$new" ] && [ "$new" != "$old" ] && echo 1)"
expect "rotation: the old one works in its grace" 200 "$(status_of GET /api/auth/verify/ "$old")"
sleep 1.5
expect "rotation: after the grace the old one is refused" 401 "$(status_of GET /api/auth/verify/ "$old")"
expect "rotation: ... and its session is revoked" 401 "$(status_of GET /api/auth/verify/ "$new")"
expect "rotation: ... recorded as token_reused" 1 "$(ctl events --last 20 --json | grep -c '"type":"token_reused"')"

# --- a second factor ---------------------------------------------------------------------

ctl client add vault --require-otp >/dev/null
uri=$(ctl user totp enroll tess)
secret=$(python3 -c 'import sys, urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["secret"][0])' "$uri")
totp() {
    python3 -c '
import base64, hashlib, hmac, struct, sys, time
s = sys.argv[1]; key = base64.b32decode(s + "=" * (-len(s) % 8))
h = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))' "$1"
}
req POST /api/auth/login/ "" '{"username":"tess","password":"pw-tess","client":"vault"}'
expect "otp: a client that requires it asks for the code" otp_required "$(json code)"
code_now=$(totp "$secret")
req POST /api/auth/login/ "" "{\"username\":\"tess\",\"password\":\"pw-tess\",\"client\":\"vault\",\"otp\":\"$code_now\"}"
expect "otp: the code logs in" 200 "$code"
req POST /api/auth/login/ "" "{\"username\":\"tess\",\"password\":\"pw-tess\",\"client\":\"vault\",\"otp\":\"$code_now\"}"
expect "otp: ... once" otp_invalid "$(json code)"
expect "redis: durin-inspect cannot read a second factor" NOPERM \
    "$(redis_as durin-inspect hgetall durin:secret:otp:tess 2>&1 | grep -o NOPERM | head -1)"
