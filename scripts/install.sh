#!/usr/bin/env bash
# Installs durin into DESTDIR: what `make install` and `make deb` share.
#
#   scripts/install.sh BIN_DIR        (environment: DESTDIR, PREFIX, SYSCONFDIR, UNITDIR,
#                                      WITH_ENV=1 to write $SYSCONFDIR/durin/durin.env)
#
# The binaries go to $PREFIX/bin and the units name that path. The nginx snippets and
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
for snippet in durin-server.conf durin-api.conf durin-protect.conf; do
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
install -m 0644 "$root/redis/durin-redis.conf" "$root/redis/durin.acl" "$DESTDIR$PREFIX/share/doc/durin/examples/"

if [ "$WITH_ENV" = 1 ]; then
    "$root/scripts/write-env.sh" "$root/systemd/durin.env" "$DESTDIR$SYSCONFDIR/durin/durin.env" \
        "$DESTDIR$SYSCONFDIR/nginx/durin/proxy-key.conf"
fi
