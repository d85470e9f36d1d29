#!/usr/bin/env bash
# `make install` into a DESTDIR: every file where the README says, the units naming
# the installed binary, and the env file written once, private, with a fresh secret.
#
#   Tests/install/run.sh          (run by `make test-install`; needs the static debug build)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
nok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }

# `make install`; or, with DURIN_INSTALL_BIN (as `make test` runs this beside the other
# suites), its install step alone on binaries built before: no build then runs while
# the end-to-end tests use the build folder.
install_into() {
    if [ -n "${DURIN_INSTALL_BIN:-}" ]; then
        DESTDIR="$1" PREFIX=/usr/local SYSCONFDIR=/etc UNITDIR=/etc/systemd/system "$root/scripts/install.sh" "$DURIN_INSTALL_BIN"
    else
        make -s -C "$root" install CONFIG=debug DESTDIR="$1"
    fi
}

install_into "$dest" >"$dest.log" 2>&1 || { cat "$dest.log"; nok "make install"; }
rm -f "$dest.log"
for f in /usr/local/bin/durin-fcgi /usr/local/bin/durinctl; do check "$f is executable" test -x "$dest$f"; done
for f in /etc/systemd/system/durin.service /etc/systemd/system/durin.socket \
         /etc/nginx/durin/durin-server.conf /etc/nginx/durin/durin-api.conf /etc/nginx/durin/durin-protect.conf \
         /etc/nginx/durin/durin-console.conf /etc/nginx/durin/durin-errors.conf /etc/nginx/durin/durin-signin.conf \
         /etc/nginx/sites-available/durin /usr/local/share/doc/durin/examples/durin.acl \
         /usr/local/share/doc/durin/examples/durin-redis.conf /usr/local/share/doc/durin/examples/Caddyfile.example; do
    check "$f installed" test -s "$dest$f"
done
check "setup-redis is installed, executable, beside the examples it reads" bash -c "
    test -x '$dest/usr/local/share/durin/setup-redis' &&
    test -f '$dest/usr/local/share/durin/../doc/durin/examples/durin.acl'"
# durinctl's man page and completions, generated from durinctl itself.
page="$dest/usr/local/share/man/man1/durinctl.1.gz"
check "durinctl's man page is installed, gzipped" gzip -t "$page"
check "... it names every subcommand" bash -c "zcat '$page' | grep -q '^.Nm durinctl' &&
    for c in client user token events issuer import check migrate; do zcat '$page' | grep -qx \".It Em \$c\" || exit 1; done"
check "... and man renders it" bash -c "man -l '$page' 2>/dev/null | grep -q 'DURINCTL(1)'"
bashc="$dest/usr/local/share/bash-completion/completions/durinctl"
check "the bash completion completes subcommands" bash -c "
    . '$bashc'; COMP_WORDS=(durinctl cl); COMP_CWORD=1; COMP_LINE='durinctl cl'; COMP_POINT=11
    _durinctl durinctl cl durinctl; [[ \" \${COMPREPLY[*]} \" == *' client '* ]]"
check "the zsh completion is installed where zsh looks under /usr/local" \
    grep -qx '#compdef durinctl' "$dest/usr/local/share/zsh/site-functions/_durinctl"
check "the service runs /usr/local/bin/durin-fcgi" grep -qx 'ExecStart=/usr/local/bin/durin-fcgi' "$dest/etc/systemd/system/durin.service"
env="$dest/etc/durin/durin.env"
check "durin.env is mode 0640" test "$(stat -c %a "$env")" = 640
secret=$(sed -n 's/^DURIN_SECRET_KEY=//p' "$env")
check "durin.env has a fresh 64-hex secret" bash -c "[[ '$secret' =~ ^[0-9a-f]{64}\$ ]]"
check "the example site includes the installed snippets" grep -q 'include /etc/nginx/durin/durin-protect.conf;' "$dest/etc/nginx/sites-available/durin"
key=$(sed -n 's/^DURIN_PROXY_KEY=//p' "$env")
check "durin.env has a fresh 64-hex proxy key" bash -c "[[ '$key' =~ ^[0-9a-f]{64}\$ ]]"
check "the proxy key differs from the sealing secret" test "$key" != "$secret"
include="$dest/etc/nginx/durin/proxy-key.conf"
check "nginx's proxy-key include is mode 0600" test "$(stat -c %a "$include")" = 600
check "nginx's proxy-key include holds durin.env's key" grep -qx "fastcgi_param DURIN_PROXY_KEY \"$key\";" "$include"
check "durin-api.conf and durin-server.conf include it" test "$(grep -l 'include /etc/nginx/durin/proxy-key.conf;' \
    "$dest/etc/nginx/durin/durin-api.conf" "$dest/etc/nginx/durin/durin-server.conf" | wc -l)" = 2
# An env file from before the proxy key: the next install adds one, and the include.
sed -i '/DURIN_PROXY_KEY/d' "$env"
rm -f "$include"
install_into "$dest" >/dev/null 2>&1
upgraded=$(sed -n 's/^DURIN_PROXY_KEY=//p' "$env")
check "an env file without a proxy key gets one on install" bash -c "[[ '$upgraded' =~ ^[0-9a-f]{64}\$ ]]"
check "... and the include holds the same" grep -qx "fastcgi_param DURIN_PROXY_KEY \"$upgraded\";" "$include"
check "... and durin.env kept its mode 0640" test "$(stat -c %a "$env")" = 640
key=$upgraded
install_into "$dest" >/dev/null 2>&1
check "a second make install keeps durin.env and its secret" test "$(sed -n 's/^DURIN_SECRET_KEY=//p' "$env")" = "$secret"
check "a second make install keeps the proxy key" grep -qx "fastcgi_param DURIN_PROXY_KEY \"$key\";" "$include"
other=$(mktemp -d)
install_into "$other" >/dev/null 2>&1
check "another installation gets another secret" test "$(sed -n 's/^DURIN_SECRET_KEY=//p' "$other/etc/durin/durin.env")" != "$secret"
rm -rf "$other"
check "the installed durin-fcgi accepts the installed env (fails only at the socket)" bash -c "
    set -a; . '$env'; set +a
    DURIN_LISTEN=/nonexistent/durin.sock '$dest/usr/local/bin/durin-fcgi' >/dev/null 2>&1; [ \$? = 71 ]"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
