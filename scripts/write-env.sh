#!/bin/sh
# Writes durin's env file from the sample, with a freshly generated sealing secret,
# only where none exists (an existing file, and so its secret, is never replaced).
#
#   write-env.sh SAMPLE TARGET
#
# POSIX sh: the Debian package's postinst runs it too.
set -eu
sample=$1
target=$2
if [ -e "$target" ]; then
    echo "durin: keeping the existing $target"
    exit 0
fi
mkdir -p "$(dirname "$target")"
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
[ ${#secret} -eq 64 ] || { echo "durin: could not read 32 random bytes" >&2; exit 1; }
tmp="$target.tmp.$$"
# The file is private from its first byte: it holds the secret.
(umask 077 && sed -e "s#^DURIN_SECRET_KEY=.*#DURIN_SECRET_KEY=$secret#" "$sample" > "$tmp")
grep -q "^DURIN_SECRET_KEY=$secret\$" "$tmp" || { rm -f "$tmp"; echo "durin: $sample has no DURIN_SECRET_KEY line" >&2; exit 1; }
chmod 0640 "$tmp"
mv "$tmp" "$target"
echo "durin: wrote $target with a new DURIN_SECRET_KEY"
