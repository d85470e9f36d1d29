#!/usr/bin/env bash
# docs/openapi.yaml against the live service (`make test-openapi`, part of `make test`):
# the document is valid OpenAPI 3.1 (openapi-spec-validator), durin-fcgi serves exactly
# it as openapi.json, the regression cases of regressions.txt (the last of them with
# Redis stopped) get their statuses and answers the document allows, and Schemathesis fuzzes a stack of its own
# (scripts/devstack.sh: redis-server, durin-fcgi and nginx on loopback, the example
# site) through nginx, checking every answer against the document: no 5xx, and
# status codes, content types, headers and bodies as documented. Three runs:
#
#   tokens    every operation at /api/auth (issue/ and metrics/ answer 404 there),
#             stateful along the document's links; token routes with a valid
#             `Authorization: Token` (hooks.py), introspect/ and revoke/ with
#             `Authorization: Issuer <key>`
#   hostile   the token routes, introspect/ and revoke/ with Authorization headers
#             Schemathesis makes up (hostile.py): refusals, each as documented
#   trusted   issue/ where the example site enables it (/internal/durin), with the key
#
#   Tests/openapi/run.sh      (needs python3-yaml, python3-venv; PyPI for the tools; a debug build)
#
# OPENAPI_SEED (default 1796180000) and OPENAPI_EXAMPLES (at most that many cases per
# operation and phase, default 100) choose the run. The same seed makes the same
# requests, but for those that follow an answer: stateful testing goes where the
# service's answers lead, and nginx's rate limit on login/ answers by the clock. The
# tools are pinned in requirements.txt (all of them: Hypothesis's version decides the
# requests), installed into .build/openapi-venv. About 75 s on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/Tests/openapi
venv=$root/.build/openapi-venv
seed=${OPENAPI_SEED:-1796180000}
examples=${OPENAPI_EXAMPLES:-100}
started=$SECONDS

python3 "$root/scripts/openapi.py" --check

if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi
"$venv/bin/openapi-spec-validator" "$root/docs/openapi.yaml"

state=$(mktemp -d /tmp/durin-openapi.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bin=$(swift build --package-path "$root" --show-bin-path)
export DURIN_STATE_DIR=$state DURIN_HTTP_PORT=$port DURIN_BIN_DIR=$bin DURIN_PASSWORD_ITERATIONS=1000 DURIN_LOG_LEVEL=warning
# Everything the document describes switched on: Bearer beside Token, apiaccess/ (with
# its token shown), the user's fields in login/'s answer, the sessions' details. The
# login limits are off, so that a login with the document's example credentials gets
# its token and the links from login/ lead somewhere; nginx's limit_req on login/ still
# answers 429 to bursts (documented).
export DURIN_AUTH_HEADER_PREFIX="Token Bearer" DURIN_API_ACCESS_CLIENT_NAME=api DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN=true \
    DURIN_USER_FIELDS=username,email,is_active,phone DURIN_SESSION_DETAILS=on \
    DURIN_LOGIN_RATE_PER_ADDRESS=off DURIN_LOGIN_FAILURE_RATE=off DURIN_LOGIN_FAILURE_RATE_PER_USER=off
cleanup() { "$root/scripts/devstack.sh" stop >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT
"$root/scripts/devstack.sh" start >/dev/null
origin=http://127.0.0.1:$port

# What the service serves is the document.
curl -sf "$origin/api/auth/openapi.json" > "$state/openapi.json"
python3 "$root/scripts/openapi.py" --json > "$state/expected.json"
python3 - "$state/openapi.json" "$state/expected.json" <<'PY' || { echo "openapi.json: the service does not serve docs/openapi.yaml (swift build?)" >&2; exit 1; }
import json, sys
sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))
PY
echo "openapi.json: served as docs/openapi.yaml says"

# durinctl as the stack's responder is configured.
export REDISCLI_AUTH
REDISCLI_AUTH=$(cat "$state/redis-password")
ctl() {
    DURIN_REDIS_URL="unix://:$REDISCLI_AUTH@$state/redis.sock" DURIN_SECRET_KEY=$(cat "$state/secret") \
        DURIN_PROXY_KEY=$(cat "$state/proxy-key") "$bin/durinctl" "$@"
}
for client in web cli mobile; do ctl client add "$client" >/dev/null; done
ctl client add api --ttl 365d >/dev/null
ctl client add forever --ttl never >/dev/null
# The document's example credentials.
# demo is staff: the issuer key may manage users (users/), and a key without `staff`
# can touch no staff user, so the run keeps its user whatever users/ is sent.
printf '%s\n' 'demo-password' | ctl user add demo --password-stdin --staff --field email=demo@example.com >/dev/null
export OPENAPI_ORIGIN=$origin OPENAPI_ISSUER=gateway OPENAPI_ISSUER_KEY OPENAPI_MOBILE_KEY OPENAPI_TOKEN
OPENAPI_ISSUER_KEY=$(ctl issuer add gateway --may issue,introspect,revoke,users)
OPENAPI_MOBILE_KEY=$(ctl issuer add mobile-gw --clients mobile)
OPENAPI_TOKEN=$(curl -sf -X POST "$origin/api/auth/login/" -H 'Content-Type: application/json' \
    -d '{"username":"demo","password":"demo-password","client":"web"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

failed=()
echo
echo "== regressions (Tests/openapi/regressions.txt)"
"$venv/bin/python" "$here/replay.py" "$origin" "$state/openapi.json" "$here/regressions.txt" | tee "$state/regressions.log" ||
    failed+=(regressions)

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
# Each run from the state dir: Schemathesis writes nothing elsewhere.
schemathesis() {
    local name=$1 hooks=$2; shift 2
    echo
    echo "== schemathesis: $name (seed $seed, at most $examples cases per operation and phase)"
    (cd "$state" && SCHEMATHESIS_HOOKS=$hooks "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" \
        run "$state/openapi.json" --seed "$seed" --max-examples "$examples" --checks "$checks" \
        --workers 1 --no-color "$@") > "$state/$name.log" 2>&1 && status=0 || status=$?
    cat "$state/$name.log"
    [ "$status" = 0 ] || failed+=("schemathesis $name")
}
token_routes='^/(refresh|logout|logoutall|verify|sessions|apiaccess|password|totp)/'
schemathesis tokens "$here/hooks.py" --url "$origin/api/auth"
schemathesis hostile "$here/hostile.py" --url "$origin/api/auth" --phases examples,coverage,fuzzing \
    --include-path-regex "$token_routes|^/(introspect|revoke|users)/"
schemathesis trusted "$here/hooks.py" --url "$origin/internal/durin" --phases examples,coverage,fuzzing \
    --include-path /issue/

# Last, as Redis's data goes with it: every route that needs Redis answers 503 while it
# is away.
echo
echo "== regressions with Redis stopped"
"$root/scripts/devstack.sh" redis-stop
"$venv/bin/python" "$here/replay.py" "$origin" "$state/openapi.json" "$here/regressions.txt" redis-down |
    tee "$state/redis-down.log" || failed+=("regressions (Redis stopped)")

# The summary: what each run tested.
echo
echo "== summary (seed $seed, Schemathesis $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))'), openapi-spec-validator $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))'))"
grep -E '^regressions: ' "$state/regressions.log" "$state/redis-down.log" | sed -e "s#^$state/##" || true
for name in tokens hostile trusted; do
    printf '%-8s operations %s, test cases: %s\n' "$name" \
        "$(grep -E '^ +Tested: ' "$state/$name.log" | awk '{print $2}')" \
        "$(grep -A1 -E '^Test cases:' "$state/$name.log" | tail -1 | sed -e 's/^ *//')"
done
echo "time: $((SECONDS - started)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "openapi: all passed"
