# Sourced by Tests/systemd/run.sh: Clients and users with the installed durinctl.

# --- 4. seed with the installed durinctl -----------------------------------------

for c in web cli mobile; do
    ctl client add "$c" >>"$work/out/seed.log" 2>&1 || { cat "$work/out/seed.log" | sed 's/^/#   /'; fatal "durinctl client add $c failed"; }
done
for u in alice bob; do
    echo "pw-$u" | ctl user add "$u" --password-stdin >>"$work/out/seed.log" 2>&1 \
        || { sed 's/^/#   /' "$work/out/seed.log"; fatal "durinctl user add $u failed"; }
done
expect "durinctl (as the ACL user) lists the clients" "cli mobile web" "$(ctl client list 2>&1 | awk '{print $1}' | grep -E '^(web|cli|mobile)$' | sort | xargs)"
if rcli client list | grep -q 'user=durin '; then
    ok "durin-fcgi's Redis connections use the ACL user durin"
else
    nok "no Redis connection as user durin (CLIENT LIST: $(rcli client list | awk '{for(i=1;i<=NF;i++) if ($i ~ /^user=/) print $i}' | sort | uniq -c | xargs))"
fi
