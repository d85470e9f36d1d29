#!/usr/bin/env bash
# Builds the Debian package from built binaries: the layout of scripts/install.sh
# with PREFIX=/usr, the units in /lib/systemd/system, the env file written by the
# postinst (each host its own secret) and removed on purge.
#
#   scripts/build-deb.sh BIN_DIR OUT_DIR VERSION
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1
out=$2
version=$3
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/durin"

DESTDIR="$pkg" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system WITH_ENV=0 \
    "$root/scripts/install.sh" "$bin"
strip --strip-unneeded "$pkg"/usr/bin/durin-fcgi "$pkg"/usr/bin/durinctl
install -d "$pkg/usr/share/durin" "$pkg/DEBIAN"
install -m 0755 "$root/scripts/write-env.sh" "$pkg/usr/share/durin/write-env.sh"
install -m 0755 "$root"/packaging/deb/postinst "$root"/packaging/deb/prerm "$root"/packaging/deb/postrm "$pkg/DEBIAN/"
(cd "$pkg" && find etc -type f | sed 's#^#/#' | sort) > "$pkg/DEBIAN/conffiles"

# Depends: the package of every shared library the binaries load (the Swift
# runtime is linked in statically, so it is not among them), at least at the full
# version built against, Debian revision included: libfcgi0ldbl 2.4.2-2 lacks the
# fix for CVE-2025-23016 (a heap overflow in its parameter parsing) that
# 2.4.2-2+deb12u1 has, and `>= 2.4.2` would accept it.
depends=$(for b in "$pkg"/usr/bin/*; do ldd "$b"; done | awk '/=> \// { print $3 }' | sort -u |
    while read -r lib; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true; done |
    cut -d: -f1 | sort -u | while read -r p; do
        printf '%s (>= %s)\n' "$p" "$(dpkg-query -W -f '${Version}' "$p")"
    done | paste -sd, - | sed 's/,/, /g')
[ -n "$depends" ] || { echo "build-deb.sh: found no library dependencies" >&2; exit 1; }
for b in "$pkg"/usr/bin/*; do
    if ldd "$b" | grep -q libswiftCore; then
        echo "build-deb.sh: $b links the Swift runtime dynamically; build with --static-swift-stdlib" >&2; exit 1
    fi
done

cat > "$pkg/DEBIAN/control" <<CONTROL
Package: durin
Version: $version
Architecture: $arch
Maintainer: durin maintainers <root@localhost>
Section: net
Priority: optional
Depends: $depends, init-system-helpers (>= 1.54)
Recommends: redis-server (>= 5:7.0), nginx
Suggests: redis-tools
Installed-Size: $(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
Homepage: file:///usr/share/doc/durin/README.md
Description: per-API-client token authentication for nginx (django-rest-durin port)
 durin-fcgi is a FastCGI responder that logs users in and keeps one token per
 (user, API client) in Redis with native expiry, with refresh, logout, logoutall,
 sessions, an API-access token and trusted issuance. nginx protects any upstream
 with auth_request against it, with per-location client rules and throttling.
 durinctl manages clients, users and tokens.
CONTROL
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/durin_${version}_${arch}.deb" >/dev/null
echo "$out/durin_${version}_${arch}.deb"
