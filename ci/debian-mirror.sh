# ci/debian-mirror.sh - sourced: host_debian_mirror prints the Debian archive URI the host's own apt uses
# (FARM_DEBIAN_MIRROR if set), so private apt states and debootstrap go where the host's apt goes.
# The security archive is skipped: it carries no -backports and no debootstrap suite.
host_debian_mirror() {
    [ -n "${FARM_DEBIAN_MIRROR:-}" ] && { echo "$FARM_DEBIAN_MIRROR"; return 0; }
    local f
    {
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] && awk '$1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; if (u !~ /security/) { print u; exit } }' "$f"
        done
    } | head -n 1
    return 0
}
