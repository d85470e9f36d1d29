#!/usr/bin/env bash
# The operator console in a real browser (`make test-browser`, part of `make test`):
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
start_stack

ctl client add web >/dev/null
ctl client add kiosk --idle 30m >/dev/null
printf '%s\n' 'ada-password' | ctl user add ada --password-stdin --staff >/dev/null
printf '%s\n' 'bob-password' | ctl user add bob --password-stdin --field email=bob@example.com >/dev/null

export CONSOLE_PORT=$port CONSOLE_SCREENSHOTS=$out DURIN_STATE_DIR=$state DURIN_ROOT=$root
export DURINCTL="$bin/durinctl" CTL_REDIS_URL="unix://:$REDISCLI_AUTH@$state/redis.sock" CTL_SECRET=$(cat "$state/secret")
cd "$root/Tests/browser" && "$venv/bin/python" -m unittest -v console_test 2>&1
