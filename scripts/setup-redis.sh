#!/usr/bin/env bash
# durin's Redis on Debian 12, set up as docs/redis.md explains: the unix socket only
# (no TCP), a default user no one can log in as, three ACL users (durin;
# durin-inspect, read-only, for redis-cli; admin), the release's durability and
# client-memory settings (durin-redis.conf), and durin logging in as its user.
# Installed as /usr/share/durin/setup-redis; run it as root after installing the
# package and redis-server, and again after an upgrade: it keeps the passwords it
# made, and installs the release's ACL and settings.
#
# Files are written private (umask 077), no password is ever on a command line (ps
# shows those: printf and read are the shell's own), and the ACL file holds only the
# passwords' SHA-256. The passwords are in /etc/durin/redis/<user> (root, 0600).
set -euo pipefail
# The shipped durin.acl and durin-redis.conf, beside this script's share directory.
examples=$(dirname "$(readlink -f "$0")")/../doc/durin/examples
for f in durin.acl durin-redis.conf; do
    [ -f "$examples/$f" ] || { echo "setup-redis: no $examples/$f" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "setup-redis: run it as root" >&2; exit 1; }
umask 077

# 1. Redis.
mkdir -p /etc/durin/redis
for user in durin durin-inspect admin; do
    [ -s "/etc/durin/redis/$user" ] || openssl rand -hex 24 | tr -d '\n' > "/etc/durin/redis/$user"
done
sha() { sha256sum < "/etc/durin/redis/$1" | cut -d' ' -f1; }
nobody=$(openssl rand -hex 32 | tr -d '\n' | sha256sum | cut -d' ' -f1)   # default's: never kept
sed -e "s/DURIN-PASSWORD-SHA256/$(sha durin)/" -e "s/INSPECT-PASSWORD-SHA256/$(sha durin-inspect)/" \
    -e "s/ADMIN-PASSWORD-SHA256/$(sha admin)/" -e "s/DEFAULT-PASSWORD-SHA256/$nobody/" \
    "$examples/durin.acl" > /etc/redis/users.acl.new
chown redis:redis /etc/redis/users.acl.new && chmod 0640 /etc/redis/users.acl.new
mv /etc/redis/users.acl.new /etc/redis/users.acl
install -o redis -g redis -m 0640 "$examples/durin-redis.conf" /etc/redis/durin.conf
grep -qx 'include /etc/redis/durin.conf' /etc/redis/redis.conf || echo 'include /etc/redis/durin.conf' >> /etc/redis/redis.conf
systemctl restart redis-server
echo "setup-redis: Redis restarted with durin's ACL users and settings"

# 2. durin: its Redis user in DURIN_REDIS_URL, then a restart.
# (The file ends without a newline, so read reports end of file; pw is read all the same.)
read -r pw < /etc/durin/redis/durin || [ -n "$pw" ]
{ grep -v '^DURIN_REDIS_URL=' /etc/durin/durin.env || true
  printf 'DURIN_REDIS_URL=unix://durin:%s@/run/redis/redis-server.sock\n' "$pw"; } > /etc/durin/durin.env.new
unset pw
chmod 0640 /etc/durin/durin.env.new && mv /etc/durin/durin.env.new /etc/durin/durin.env
systemctl restart durin
echo "setup-redis: durin logs in to Redis as its ACL user (passwords in /etc/durin/redis/)"
