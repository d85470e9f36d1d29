# Sourced by the benchmarks: adds a location to the bench stack's nginx site.
#
#   bench_location NAME SOCKET kept|new
#
# /NAME/ passes to SOCKET with durin-api.conf's params. `kept`: through an upstream
# with a keepalive pool, as the example site mounts durin (fastcgi_keep_conn on).
# `new`: straight to the socket with fastcgi_keep_conn off, a connection per request,
# which is all a stock libfcgi responder can serve without pinning its threads.
# Needs $state (the devstack state dir); nginx is reloaded by the caller.
bench_location() {
    local name=$1 socket=$2 mode=$3 n="$state/nginx" pass conf
    if [ ! -f "$n/durin/durin-api-new.conf" ]; then
        sed 's/^fastcgi_keep_conn on;/fastcgi_keep_conn off;/' "$n/durin/durin-api.conf" > "$n/durin/durin-api-new.conf"
    fi
    if [ "$mode" = kept ]; then
        pass="bench_${name//-/_}"
        conf=durin-api.conf
        sed -i "1i upstream $pass { server unix:$socket; keepalive 32; }" "$n/site.conf"
    else
        pass="unix:$socket"
        conf=durin-api-new.conf
    fi
    sed -i "s#^    server_name localhost 127.0.0.1;#    server_name localhost 127.0.0.1;\n    location /$name/ {\n        fastcgi_split_path_info ^(/$name)(/.*)\$;\n        include $n/durin/$conf;\n        fastcgi_pass $pass;\n    }#" "$n/site.conf"
}
