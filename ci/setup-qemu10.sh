#!/usr/bin/env bash
# ci/setup-qemu10.sh - QEMU 10.0 from bookworm-backports in .cache/qemu-10/, beside the system QEMU 7.2.
#   QEMU 10's arm-smmuv3 has a `stage` property (-global arm-smmuv3.stage=2): a stage-2 SMMU, the only
#   kind Xen's SMMUv3 driver accepts (7.2's is stage-1 only: "no stage-2 translation support!").
#   The packages are fetched with a private apt state (nothing of the host's apt changes) and unpacked
#   with dpkg -x, so 7.2 stays the system QEMU for boards that do not ask for 10 and for other users of
#   this machine. The mirror is the host's own (its deb822 or one-line sources), so this works behind
#   whatever mirror the host uses. Idempotent: a stamp names the unpacked version.
# Environment: FARM_QEMU10_VERSION  the exact package version (default below)
# Prints the binary's path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup-qemu10] %s\n' "$*" >&2; }

VERSION=${FARM_QEMU10_VERSION:-1:10.0.2+ds-2+deb13u1~bpo12+1}
SUITE=bookworm-backports
DEST=.cache/qemu-10
BIN=$DEST/usr/bin/qemu-system-aarch64
# qemu-system-arm has the binary; qemu-system-data the ROMs (efi-e1000e.rom: e1000e's romfile=) and
# keymaps; qemu-system-common's qemu-bridge-helper is not needed (Farm uses user-mode networking).
PKGS=(qemu-system-arm qemu-system-data)

. ci/debian-mirror.sh

check() {
    local out
    if ! out=$("$BIN" --version 2>&1); then
        log "$BIN does not run:"
        printf '%s\n' "$out" >&2
        # A missing shared library is the likely cause on a host that is not bookworm: name them all.
        ldd "$BIN" 2>/dev/null | grep 'not found' | sed 's/^/[setup-qemu10]   missing: /' >&2 || true
        return 1
    fi
    case $out in *"version 10."*) ;; *) log "$BIN is not QEMU 10: ${out%%$'\n'*}"; return 1 ;; esac
    "$BIN" -machine virt -device arm-smmuv3,help 2>/dev/null | grep -q 'stage' \
        || { log "$BIN: arm-smmuv3 has no stage property (stage-2 SMMU unavailable)"; return 1; }
}

if [ "$(cat "$DEST/.version" 2>/dev/null)" = "$VERSION" ] && [ -x "$BIN" ] && check; then
    log "ready: $BIN (${VERSION})"
    echo "$BIN"
    exit 0
fi

mirror=$(host_debian_mirror)
[ -n "$mirror" ] || { log "no Debian mirror in /etc/apt/sources.list{,.d}: set FARM_DEBIAN_MIRROR"; exit 1; }
apt=$(mktemp -d /tmp/farm-qemu10-apt.XXXXXX)
trap 'rm -rf "$apt"' EXIT
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$SUITE" > "$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root -q)
log "apt-get update ($SUITE from the host's mirror, private state)"
apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 || { tail -n 12 "$apt/update.log" >&2; exit 1; }
log "apt-get download ${PKGS[*]} ($VERSION)"
(cd "$apt/debs" && apt-get "${opts[@]}" download "${PKGS[@]/%/=$VERSION}") >"$apt/download.log" 2>&1 \
    || { tail -n 12 "$apt/download.log" >&2; exit 1; }
rm -rf "$DEST.new"
mkdir -p "$DEST.new"
for deb in "$apt"/debs/*.deb; do dpkg -x "$deb" "$DEST.new"; done
echo "$VERSION" > "$DEST.new/.version"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
check || exit 1
log "ready: $BIN ($("$BIN" --version | head -n 1))"
echo "$BIN"
