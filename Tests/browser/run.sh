#!/usr/bin/env bash
# The operator console and browser sessions in a real browser (`make test-browser`,
# part of `make test`):
# Debian's headless Chromium driven by Selenium (from PyPI, in a venv of its own)
# against a stack of its own (scripts/devstack.sh: redis-server, durin-fcgi and nginx
# on loopback, the example site with its console location).
#
#   Tests/browser/run.sh      (needs chromium, chromium-driver, python3-venv; a debug build)
#
# Screenshots of every page go to .build/test-output/console/. Output: unittest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.build/test-output/console
venv=$root/.build/browser-venv
mkdir -p "$out"

command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
    { echo "browser tests: install chromium and chromium-driver" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'selenium>=4.15,<5'
fi

. "$root/Tests/lib/stack.sh"
# The console's one origin: any other name (localhost included) is refused.
export DURIN_CONSOLE_ORIGIN=http://127.0.0.1:$port
# Both suites sign in many times from 127.0.0.1: more than the default 30 a minute.
export DURIN_LOGIN_RATE_PER_ADDRESS=off
start_stack

ctl client add web >/dev/null
# The sign-in page's client (DURIN_SIGNIN_CLIENT=browser in the devstack).
ctl client add browser --cookie >/dev/null
ctl client add kiosk --idle 30m >/dev/null
printf '%s\n' 'ada-password' | ctl user add ada --password-stdin --staff >/dev/null
printf '%s\n' 'bob-password' | ctl user add bob --password-stdin --field email=bob@example.com >/dev/null
printf '%s\n' 'carol-password' | ctl user add carol --password-stdin >/dev/null

export CONSOLE_PORT=$port CONSOLE_SCREENSHOTS=$out DURIN_STATE_DIR=$state DURIN_ROOT=$root
export DURINCTL="$bin/durinctl" CTL_REDIS_URL="unix://:$REDISCLI_AUTH@$state/redis.sock" CTL_SECRET=$(cat "$state/secret")
# The example site's /app/socket: a WebSocket echo that says whom nginx named.
# (signin_test runs first: console_test restarts Redis, which loses the data.)
python3 "$root/Tests/browser/socket_echo.py" "$state/demo-socket.sock" &
echo_pid=$!
stop_own() { kill "$echo_pid" 2>/dev/null || true; }
cd "$root/Tests/browser" && "$venv/bin/python" -m unittest -v signin_test console_test 2>&1
