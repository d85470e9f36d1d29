#!/bin/sh
# Writes durin's per-host secrets, each only where none exists (an existing one is
# never replaced):
# - the env file, from the sample, with a fresh sealing secret (DURIN_SECRET_KEY)
#   and proxy key (DURIN_PROXY_KEY); an existing env file without a proxy key gets
#   one added (an upgrade from a release before the key);
# - nginx's proxy-key include, root-only, holding the env file's proxy key.
#
#   write-env.sh SAMPLE TARGET [NGINX_KEY_INCLUDE]
#
# POSIX sh: the Debian package's postinst runs it too. No secret is ever on a command
# line (where `ps` would show it): they travel through pipes, variables and the
# shell's own printf.
set -eu
sample=$1
target=$2
include=${3:-}

random_hex() {
    value=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    [ ${#value} -eq 64 ] || { echo "durin: could not read 32 random bytes" >&2; exit 1; }
    printf '%s' "$value"
}

# The value of VARIABLE in an env file (the last assignment), or nothing.
env_value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

umask 077
mkdir -p "$(dirname "$target")"
if [ -e "$target" ]; then
    echo "durin: keeping the existing $target"
    key=$(env_value "$target" DURIN_PROXY_KEY)
    if [ -z "$key" ]; then
        # The include may already hold one (written by hand, or by an earlier run).
        [ -n "$include" ] && [ -s "$include" ] && key=$(sed -n 's/^fastcgi_param DURIN_PROXY_KEY "\(.*\)";$/\1/p' "$include")
        [ -n "$key" ] || key=$(random_hex)
        printf '\n# The proxy key nginx proves its requests with (added on upgrade).\nDURIN_PROXY_KEY=%s\n' "$key" >> "$target"
        echo "durin: added DURIN_PROXY_KEY to $target"
    fi
else
    secret=$(random_hex)
    key=$(random_hex)
    tmp="$target.tmp.$$"
    # Private from its first byte (umask 077): it holds both secrets.
    seen_key=no
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            DURIN_SECRET_KEY=*) printf 'DURIN_SECRET_KEY=%s\n' "$secret" ;;
            DURIN_PROXY_KEY=*) printf 'DURIN_PROXY_KEY=%s\n' "$key"; seen_key=yes ;;
            *) printf '%s\n' "$line" ;;
        esac
    done < "$sample" > "$tmp"
    [ "$seen_key" = yes ] || printf 'DURIN_PROXY_KEY=%s\n' "$key" >> "$tmp"
    if [ "$(env_value "$tmp" DURIN_SECRET_KEY)" != "$secret" ]; then
        rm -f "$tmp"
        echo "durin: $sample has no DURIN_SECRET_KEY line" >&2
        exit 1
    fi
    chmod 0640 "$tmp"
    mv "$tmp" "$target"
    echo "durin: wrote $target with a new DURIN_SECRET_KEY and DURIN_PROXY_KEY"
fi

if [ -n "$include" ]; then
    if [ -e "$include" ]; then
        echo "durin: keeping the existing $include"
    else
        mkdir -p "$(dirname "$include")"
        tmp="$include.tmp.$$"
        {
            printf '# durin'"'"'s proxy key: nginx sends it with every request to durin-fcgi, which\n'
            printf '# answers nothing without it. Keep this file root'"'"'s, mode 0600: nginx'"'"'s master\n'
            printf '# reads it as root, and no other process (its own workers included) may.\n'
            printf 'fastcgi_param DURIN_PROXY_KEY "%s";\n' "$key"
        } > "$tmp"
        chmod 0600 "$tmp"
        mv "$tmp" "$include"
        echo "durin: wrote $include (the proxy key, readable by root only)"
    fi
fi
