#!/usr/bin/env bash
# Installs durin into DESTDIR: what `make install` and `make deb` share.
#
#   scripts/install.sh BIN_DIR        (environment: DESTDIR, PREFIX, SYSCONFDIR, UNITDIR,
#                                      WITH_ENV=1 to write $SYSCONFDIR/durin/durin.env)
#
# The binaries go to $PREFIX/bin and the units name that path. durinctl's man page
# and its bash and zsh completions are generated from durinctl itself (swift-argument-
# parser's generate-manual, built beside it, and --generate-completion-script). The nginx snippets and
# the example site are configuration, installed under $SYSCONFDIR. The env file holds
# the sealing secret: it is written only where none exists, mode 0640, with a secret
# generated here, never the sample's placeholder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: install.sh BIN_DIR}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}
WITH_ENV=${WITH_ENV:-1}

for b in durin-fcgi durinctl; do
    [ -x "$bin/$b" ] || { echo "install.sh: no $bin/$b (build first)" >&2; exit 1; }
done

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$UNITDIR" "$DESTDIR$SYSCONFDIR/nginx/durin" \
    "$DESTDIR$SYSCONFDIR/nginx/sites-available" "$DESTDIR$PREFIX/share/doc/durin/examples"
install -m 0755 "$bin/durin-fcgi" "$bin/durinctl" "$DESTDIR$PREFIX/bin/"
# The units name /usr/bin (the package's layout); another PREFIX gets its own path.
for u in durin.service durin.socket; do
    sed -e "s#/usr/bin/durin-fcgi#$PREFIX/bin/durin-fcgi#" "$root/systemd/$u" > "$DESTDIR$UNITDIR/$u"
    chmod 0644 "$DESTDIR$UNITDIR/$u"
done
# The snippets name each other (and the proxy key's include) by their installed path.
for snippet in durin-server.conf durin-errors.conf durin-api.conf durin-protect.conf durin-console.conf durin-signin.conf; do
    sed -e "s#/etc/nginx/durin/#$SYSCONFDIR/nginx/durin/#g" "$root/nginx/$snippet" > "$DESTDIR$SYSCONFDIR/nginx/durin/$snippet"
    chmod 0644 "$DESTDIR$SYSCONFDIR/nginx/durin/$snippet"
done
sed -e "s#/etc/nginx/durin/#$SYSCONFDIR/nginx/durin/#g" "$root/nginx/example-site.conf" \
    > "$DESTDIR$SYSCONFDIR/nginx/sites-available/durin"
chmod 0644 "$DESTDIR$SYSCONFDIR/nginx/sites-available/durin"
install -d "$DESTDIR$PREFIX/share/doc/durin/docs"
install -m 0644 "$root/README.md" "$DESTDIR$PREFIX/share/doc/durin/"
# The manuals the README links to (docs/...), beside it.
install -m 0644 "$root"/docs/*.md "$DESTDIR$PREFIX/share/doc/durin/docs/"
install -m 0644 "$root/systemd/durin.env" "$DESTDIR$PREFIX/share/doc/durin/examples/durin.env"
install -m 0644 "$root/redis/durin-redis.conf" "$root/redis/durin.acl" "$root/caddy/Caddyfile.example" \
    "$DESTDIR$PREFIX/share/doc/durin/examples/"
# Redis set up for durin from those two files (the README's deployment step 1).
install -d "$DESTDIR$PREFIX/share/durin"
install -m 0755 "$root/scripts/setup-redis.sh" "$DESTDIR$PREFIX/share/durin/setup-redis"

# durinctl's man page and completions, from its own description of its commands.
[ -x "$bin/generate-manual" ] || { echo "install.sh: no $bin/generate-manual (make build-static builds it)" >&2; exit 1; }
man_dir=$(mktemp -d)
# The date of the commit, not of the build: the same sources give the same page.
"$bin/generate-manual" "$bin/durinctl" --output-directory "$man_dir" \
    --date "$(git -C "$root" log -1 --format=%cs 2>/dev/null || date -u +%F)" >/dev/null
install -d "$DESTDIR$PREFIX/share/man/man1"
gzip -9n < "$man_dir/durinctl.1" > "$DESTDIR$PREFIX/share/man/man1/durinctl.1.gz"
chmod 0644 "$DESTDIR$PREFIX/share/man/man1/durinctl.1.gz"
rm -rf "$man_dir"
# Debian's zsh reads vendor-completions under /usr, site-functions under /usr/local.
zsh_dir=$PREFIX/share/zsh/$([ "$PREFIX" = /usr ] && echo vendor-completions || echo site-functions)
install -d "$DESTDIR$PREFIX/share/bash-completion/completions" "$DESTDIR$zsh_dir"
"$bin/durinctl" --generate-completion-script bash > "$DESTDIR$PREFIX/share/bash-completion/completions/durinctl"
"$bin/durinctl" --generate-completion-script zsh > "$DESTDIR$zsh_dir/_durinctl"
chmod 0644 "$DESTDIR$PREFIX/share/bash-completion/completions/durinctl" "$DESTDIR$zsh_dir/_durinctl"

if [ "$WITH_ENV" = 1 ]; then
    "$root/scripts/write-env.sh" "$root/systemd/durin.env" "$DESTDIR$SYSCONFDIR/durin/durin.env" \
        "$DESTDIR$SYSCONFDIR/nginx/durin/proxy-key.conf"
fi
