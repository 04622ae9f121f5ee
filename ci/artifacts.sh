#!/usr/bin/env bash
# ci/artifacts.sh - build Farm's pinned, reproducible Xen-on-Arm artifact set.
#
# Usage:  ci/artifacts.sh [OUTDIR]     (default: <repo>/.cache/artifacts/$SUITE)
#
# Adapted from /work/shared/xen-on-qemu/fetch-artifacts.sh (same pinning and
# fallback logic). Produces in OUTDIR:
#   xen              Xen hypervisor, arm64 Image (xen-hypervisor-*-arm64)
#   vmlinuz          Linux arm64 Image (Debian's arm64 vmlinuz is a plain Image)
#   initrd.cpio.gz   reproducible busybox initramfs (see "initramfs" below)
#   debs/            every .deb the artifacts were built from
#   MANIFEST         key=value lines, then sha256sum lines (xen, vmlinuz,
#                    initrd.cpio.gz, debs/*.deb)
#   .apt/            private apt binary cache (speeds up resolution; not an input)
# (No disk image: Farm creates the NVMe backing file itself.)
#
# Cache: the inputs are this script's content, the resolved package versions
# (pins, or apt candidates on fallback) and SUITE/SOURCE_DATE_EPOCH/
# INITRD_MODULES. If OUTDIR/MANIFEST records the same inputs and every sha256
# in it matches, the script prints "[artifacts] cache hit: OUTDIR" and exits 0
# without apt-get update, download or rebuild (~1 s). Otherwise it runs
# apt-get update and rebuilds.
#
# initramfs contents (all from Debian arm64 .debs, nothing compiled):
#   busybox (static); dropbear (dropbear-bin) + lspci/setpci (pciutils,
#   libpci3, pci.ids); the Xen toolstack (xl, xenstored, xenconsoled,
#   xenconsole, xen-init-dom0); the shared-library closure of all of them,
#   computed and verified with readelf (every DT_NEEDED must resolve);
#   kernel modules nvme e1000e virtio_mmio virtio_net 9p 9pnet_virtio (+deps;
#   each is skipped if built into the kernel) and the xen modules xen-privcmd
#   xenfs xen-evtchn xen-gntdev xen-pciback. No netback/blkback: the test domU
#   has neither disk nor vif.
#   Reproducible: sorted newc cpio, uid/gid 0, mtimes = SOURCE_DATE_EPOCH,
#   gzip -n. No key material: the SSH host key is generated at boot and the
#   authorized key comes from the kernel command line (farm.sshkey=).
#
# /init (PID 1; never exits, never powers off):
#   1. prints the FARM probe lines of the shared init (FARM:, FARM-PCI:,
#      FARM-NVME:, FARM-NET:, FARM-IRQ:, FARM-DT:, FARM-DMESG:),
#   2. management network: the NIC whose driver is virtio_net (QEMU
#      "-device virtio-net-device", i.e. virtio-mmio, so the PCI devices stay
#      free for passthrough) gets 10.0.2.15/24, default route 10.0.2.2,
#   3. 9p share with mount_tag "artifacts" -> /mnt/artifacts (read-only),
#   4. under Xen, in dom0 (/proc/xen/capabilities has control_d): xen modules,
#      xenfs on /proc/xen, xenstored, xenconsoled, xen-init-dom0,
#   5. dropbear on :22 (host key ed25519, generated at boot; public-key only,
#      root's authorized_keys from farm.sshkey=<type>:<base64> on the kernel
#      command line, which may be given several times; verified: ssh-ed25519,
#      ecdsa-sha2-nistp256 and ssh-rsa keys log in, passwords are refused).
#      Non-interactive "ssh root@farm 'xl info'" works: xl, xenstored, ... are
#      symlinked into /usr/bin, lspci is in /usr/bin, and dropbear's PATH for
#      root contains /usr/bin; libraries are in ld.so's default multiarch dir,
#      so no LD_LIBRARY_PATH is needed,
#   6. prints "FARM: ready" and runs a root shell on the console with the
#      prompt "root@farm:~# " (respawned if it exits). busybox ash's line
#      editor follows the prompt with a cursor-position query (ESC [ 6 n);
#      match the prompt as a substring.
#   A domU booted from the same vmlinuz/initrd.cpio.gz (xl create with
#   kernel=/mnt/artifacts/vmlinuz ramdisk=/mnt/artifacts/initrd.cpio.gz) runs
#   this /init too: it sees /sys/hypervisor/type=xen but no control_d in
#   /proc/xen/capabilities, skips the toolstack and reaches "FARM: ready".
#   virtio-mmio and 9p under Xen: Xen gives dom0 every DT device it does not
#   use itself (the virtio,mmio nodes included) with 1:1 MMIO/IRQ mappings, and
#   dom0 memory is direct-mapped (gfn == mfn), so virtio DMA needs no grant
#   tables or swiotlb-xen translation; verified working under Xen 4.17.
#
# Runs as root (apt-get update / install of missing host tools). Environment:
#   SUITE=bookworm|trixie   default bookworm (trixie: Xen 4.20 + Linux 6.12 via
#                           a private apt state in OUTDIR/.apt/trixie; the
#                           host's apt sources are not touched)
#   XEN_PKG XEN_VER KERNEL_PKG KERNEL_VER BUSYBOX_PKG BUSYBOX_VER
#   DROPBEAR_VER PCIUTILS_VER PCIIDS_VER   pins (empty = apt candidate)
#   PIN_STRICT=1          fail instead of falling back to the apt candidate
#   SKIP_APT_UPDATE=1     never run apt-get update
#   INSTALL_HOST_TOOLS=0  do not apt-get install missing host tools
#   INITRD_MODULES        default "e1000e nvme virtio_mmio virtio_net 9p 9pnet_virtio"
#                         (e1000e first: /init sets its link up right after
#                         insmod, so autonegotiation overlaps the rest of boot)
#   SOURCE_DATE_EPOCH     timestamp of every initramfs entry (default 1704067200)
#   KEEP_EXTRACT=1        keep OUTDIR/.work (unpacked debs, staging tree)
#   APT_OPTS="-o ..."     extra options for every apt-get/apt-cache call
set -euo pipefail
umask 022
export LC_ALL=C

SELF=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
SUITE=${SUITE:-bookworm}
OUT=${1:-$REPO/.cache/artifacts/$SUITE}

case "$SUITE" in
bookworm)
    XEN_PKG=${XEN_PKG:-xen-hypervisor-4.17-arm64}
    XEN_VER=${XEN_VER-4.17.7+13-g2445b30a44-0+deb12u1}
    KERNEL_PKG=${KERNEL_PKG:-linux-image-6.1.0-56-arm64}
    KERNEL_VER=${KERNEL_VER-6.1.192-2}
    BUSYBOX_VER=${BUSYBOX_VER-1:1.35.0-4+deb12u1+b1}
    DROPBEAR_VER=${DROPBEAR_VER-2022.83-1+deb12u3}
    PCIUTILS_VER=${PCIUTILS_VER-1:3.9.0-4}
    PCIIDS_VER=${PCIIDS_VER-0.0~2023.04.11-1}
    ;;
trixie)
    XEN_PKG=${XEN_PKG:-xen-hypervisor-4.20-arm64}
    XEN_VER=${XEN_VER-4.20.4+63-g7abfd2bce2-0+deb13u1}
    KERNEL_PKG=${KERNEL_PKG:-linux-image-6.12.117+deb13-arm64}
    KERNEL_VER=${KERNEL_VER-6.12.117-1}
    BUSYBOX_VER=${BUSYBOX_VER-1:1.37.0-6+b9}
    DROPBEAR_VER=${DROPBEAR_VER-2025.89-1~deb13u1}
    PCIUTILS_VER=${PCIUTILS_VER-1:3.13.0-2}
    PCIIDS_VER=${PCIIDS_VER-0.0~2025.06.09-1}
    ;;
*) echo "[artifacts] ERROR: SUITE must be bookworm or trixie" >&2; exit 2 ;;
esac
BUSYBOX_PKG=${BUSYBOX_PKG:-busybox-static}
PIN_STRICT=${PIN_STRICT:-0}
INITRD_MODULES=${INITRD_MODULES:-e1000e nvme virtio_mmio virtio_net 9p 9pnet_virtio}
XEN_MODULES="xen-privcmd xenfs xen-evtchn xen-gntdev xen-pciback"
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
export SOURCE_DATE_EPOCH

log()  { printf '[artifacts] %s\n' "$*" >&2; }
die()  { printf '[artifacts] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
APTDIR=$OUT/.apt
mkdir -p "$APTDIR"
# The host's apt config may disable the binary cache (docker-clean), making
# every apt-cache call take ~0.7 s; keep our own.
# shellcheck disable=SC2206
APT_O=(${APT_OPTS:-} -o "Dir::Cache::pkgcache=$APTDIR/pkgcache.bin" -o "Dir::Cache::srcpkgcache=")
if [ "$SUITE" = trixie ]; then
    # private apt state (shared README): the host keeps its bookworm sources
    T=$APTDIR/trixie
    mkdir -p "$T/etc" "$T/lists/partial" "$T/cache/archives/partial"
    [ -e "$T/status" ] || : > "$T/status"
    cat > "$T/etc/trixie.sources.new" <<EOF
Types: deb
URIs: ${TRIXIE_MIRROR:-http://deb.debian.org/debian}
Suites: trixie trixie-updates
Components: main
Architectures: arm64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${TRIXIE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
Suites: trixie-security
Components: main
Architectures: arm64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    if cmp -s "$T/etc/trixie.sources.new" "$T/etc/trixie.sources"; then
        rm -f "$T/etc/trixie.sources.new"
    else
        mv "$T/etc/trixie.sources.new" "$T/etc/trixie.sources"
    fi
    APT_O+=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$T/etc"
            -o "Dir::State::Lists=$T/lists" -o "Dir::Cache=$T/cache"
            -o "Dir::State::status=$T/status" -o "APT::Architectures::=arm64")
fi

# ---------------------------------------------------------------- host setup
UPDATED=0
apt_update() {
    [ "$UPDATED" = 1 ] && return 0
    [ "${SKIP_APT_UPDATE:-0}" = 1 ] && return 0
    [ "$(id -u)" = 0 ] || die "need root for apt-get update (or set SKIP_APT_UPDATE=1)"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "dpkg --add-architecture arm64"
        dpkg --add-architecture arm64
    fi
    log "apt-get update ($SUITE)"
    apt-get "${APT_O[@]}" update -qq
    UPDATED=1
}

if [ "${INSTALL_HOST_TOOLS:-1}" = 1 ]; then
    # build tools, and what Farm / ci/bench-bare.exp need at run time
    need=()
    command -v cpio    >/dev/null || need+=(cpio)
    command -v depmod  >/dev/null || [ -x /sbin/depmod ] || need+=(kmod)
    command -v readelf >/dev/null || need+=(binutils)
    command -v xz      >/dev/null || need+=(xz-utils)
    command -v zstd    >/dev/null || need+=(zstd)
    command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
    command -v socat   >/dev/null || need+=(socat)
    command -v expect  >/dev/null || need+=(expect)
    command -v ssh     >/dev/null || need+=(openssh-client)
    if [ ${#need[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing host tools: ${need[*]} (apt-get install them)"
        # host packages come from the host's own sources, not the trixie state
        if [ "${SKIP_APT_UPDATE:-0}" != 1 ]; then log "apt-get update (host)"; apt-get update -qq; fi
        log "apt-get install ${need[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
        [ "$SUITE" = bookworm ] && UPDATED=1
    fi
fi
DEPMOD=$(command -v depmod || echo /sbin/depmod)
[ -x "$DEPMOD" ] || die "depmod (package kmod) not found"
for t in cpio readelf; do command -v $t >/dev/null || die "$t not found"; done

# ------------------------------------------------------- resolve pinned pkgs
# Few apt-cache calls (each one loads the whole cache): versions of many
# packages are looked up in one "apt-cache policy" call.
AC() { apt-cache "${APT_O[@]}" "$@"; }
declare -A CAND=() VERS=()
# lookup NAME:ARCH... -> fills CAND[NAME:ARCH] and VERS[NAME:ARCH]=" v1 v2 "
lookup() {
    local n c v
    [ $# -gt 0 ] || return 0
    while read -r n c v; do
        CAND[$n]=$c; VERS[$n]=" $v "
    done < <(AC policy "$@" 2>/dev/null | awk '
        function out() { if (name != "") print name, (cand == "" ? "-" : cand), vers }
        /^[^ ].*:$/ { out(); name = substr($0, 1, length($0) - 1); cand = ""; vers = ""; next }
        /^  Candidate:/ { cand = ($2 == "(none)") ? "" : $2; next }
        /^ (\*\*\*|   ) +[^ ]+ -?[0-9]+$/ { vers = vers " " $(NF - 1) }
        END { out() }')
    # apt-cache policy prints a plain name for native-arch/all packages
    for n in "$@"; do
        case "$n" in *:all) [ -n "${CAND[$n]:-}" ] || { CAND[$n]=${CAND[${n%:all}]:-}; VERS[$n]=${VERS[${n%:all}]:-}; } ;; esac
        [ "${CAND[$n]:-}" = - ] && CAND[$n]=
    done
    return 0
}
# pick NAME ARCH VER -> "NAME:ARCH=VERSION" (pinned, or candidate on fallback);
# NAME:ARCH must have been looked up
pick() {
    local k=$1:$2 ver=$3 cand
    [ -n "${VERS[$k]+x}" ] || lookup "$k"
    if [ -n "$ver" ]; then
        case "${VERS[$k]:-}" in *" $ver "*) echo "$k=$ver"; return 0 ;; esac
        [ "$PIN_STRICT" = 1 ] && die "$k=$ver not in the apt index (PIN_STRICT=1)"
    fi
    cand=${CAND[$k]:-}
    [ -n "$cand" ] || return 1
    [ -n "$ver" ] && log "WARNING: $k=$ver not available, using candidate $cand"
    echo "$k=$cand"
}

# Library packages whose Depends are followed to find shared libraries
# (everything else, e.g. python3 or udev from xen-utils-common, is ignored).
LIBRE='^(lib[a-z0-9].*|zlib1g)$'
LIBSKIP='^(libpython|libperl|libncurses|libtinfo|libgdbm|libdb5|libreadline|libsqlite)'

resolve() {
    SPECS=()
    # Xen toolstack matching the hypervisor: xen-hypervisor-4.17-arm64 -> 4.17
    XV=${XEN_PKG#xen-hypervisor-}; XV=${XV%%-*}
    lookup "$XEN_PKG:arm64" "$KERNEL_PKG:arm64" "$BUSYBOX_PKG:arm64" dropbear-bin:arm64 \
           pciutils:arm64 libpci3:arm64 pci.ids:all "xen-utils-$XV:arm64" "libxenmisc$XV:arm64"
    XEN_SPEC=$(pick "$XEN_PKG" arm64 "$XEN_VER") || return 1
    BB_SPEC=$(pick "$BUSYBOX_PKG" arm64 "$BUSYBOX_VER") || return 1
    if ! KERNEL_SPEC=$(pick "$KERNEL_PKG" arm64 "$KERNEL_VER"); then
        # The ABI-named kernel package vanished (new ABI): follow the meta package.
        [ "$PIN_STRICT" = 1 ] && die "$KERNEL_PKG not available"
        local kp
        kp=$(AC depends linux-image-arm64:arm64 2>/dev/null |
             awk '/Depends: linux-image-[0-9]/{sub(":arm64","",$2); print $2; exit}')
        [ -n "$kp" ] || return 1
        log "WARNING: $KERNEL_PKG not available, using $kp via linux-image-arm64"
        KERNEL_SPEC=$(pick "$kp" arm64 "") || return 1
    fi
    DROPBEAR_SPEC=$(pick dropbear-bin arm64 "$DROPBEAR_VER") || return 1
    PCIUTILS_SPEC=$(pick pciutils arm64 "$PCIUTILS_VER") || return 1
    LIBPCI_SPEC=$(pick libpci3 arm64 "${PCIUTILS_SPEC#*=}") || return 1
    PCIIDS_SPEC=$(pick pci.ids all "$PCIIDS_VER") || return 1
    XVER=${XEN_SPEC#*=}
    XENUTILS_SPEC=$(pick "xen-utils-$XV" arm64 "$XVER") || return 1
    XENMISC_SPEC=$(pick "libxenmisc$XV" arm64 "$XVER") || return 1
    # library closure (package level; the file level is checked with readelf)
    local seen=" libpci3 libxenmisc$XV " todo next new p v
    todo=("$DROPBEAR_SPEC" "$PCIUTILS_SPEC" "$LIBPCI_SPEC" "$XENUTILS_SPEC" "$XENMISC_SPEC")
    LIB_SPECS=()
    while [ ${#todo[@]} -gt 0 ]; do
        new=()
        for p in $(AC depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                       --no-replaces --no-enhances "${todo[@]}" 2>/dev/null |
                   sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^<][^ ]*\)$/\2/p' |
                   sed 's/:arm64$//' | sort -u); do
            [[ $p =~ $LIBRE ]] || continue
            [[ $p =~ $LIBSKIP ]] && continue
            case "$seen" in *" $p "*) continue ;; esac
            seen="$seen$p "; new+=("$p:arm64")
        done
        lookup "${new[@]}"
        next=()
        for p in "${new[@]}"; do
            p=${p%:arm64}
            case "$p" in
            libxen*) v=$(pick "$p" arm64 "$XVER") || return 1 ;;
            *)       v=$(pick "$p" arm64 "") || return 1 ;;
            esac
            LIB_SPECS+=("$v"); next+=("$v")
        done
        todo=("${next[@]}")
    done
    mapfile -t LIB_SPECS < <(printf '%s\n' "${LIB_SPECS[@]}" | sort -u)
    SPECS=("$XEN_SPEC" "$KERNEL_SPEC" "$BB_SPEC" "$DROPBEAR_SPEC" "$PCIUTILS_SPEC"
           "$LIBPCI_SPEC" "$PCIIDS_SPEC" "$XENUTILS_SPEC" "$XENMISC_SPEC" "${LIB_SPECS[@]}")
    mapfile -t SPECS < <(printf '%s\n' "${SPECS[@]}" | sort -u)
    SCRIPT_SHA=$(sha256sum "$SELF" | cut -d' ' -f1)
    INPUTS_SHA=$( { echo "script=$SCRIPT_SHA"; echo "suite=$SUITE"
                    echo "source_date_epoch=$SOURCE_DATE_EPOCH"
                    echo "initrd_modules=$INITRD_MODULES"; echo "xen_modules=$XEN_MODULES"
                    printf 'deb=%s\n' "${SPECS[@]}"; } | sha256sum | cut -d' ' -f1)
}

cache_valid() {
    local m=$OUT/MANIFEST f
    [ -f "$m" ] || return 1
    grep -qxF "inputs_sha256=$INPUTS_SHA" "$m" || return 1
    for f in xen vmlinuz initrd.cpio.gz; do
        grep -qE "^[0-9a-f]{64}  $f\$" "$m" || return 1
    done
    (cd "$OUT" && grep -E '^[0-9a-f]{64}  ' MANIFEST | sha256sum -c --quiet --strict >/dev/null 2>&1)
}

have_index() { CAND=(); VERS=(); lookup "$BUSYBOX_PKG:arm64"; [ -n "${CAND[$BUSYBOX_PKG:arm64]:-}" ]; }

if [ -f "$OUT/MANIFEST" ] && have_index && resolve 2>/dev/null && cache_valid; then
    log "cache hit: $OUT"
    exit 0
fi
apt_update
have_index || die "$BUSYBOX_PKG:arm64 not in the apt index (apt-get update failed? arm64 missing?)"
resolve || die "cannot resolve the package set (see warnings above)"
if cache_valid; then
    log "cache hit: $OUT"
    exit 0
fi
log "using: ${SPECS[*]}"

# ------------------------------------------------------------------ download
mkdir -p "$OUT/debs"
deb_name() { # SPEC -> file name apt-get download writes
    local name=${1%%:*} rest=${1#*:} arch ver
    arch=${rest%%=*}; ver=${1#*=}
    echo "${name}_${ver//:/%3a}_${arch}.deb"
}
want=" "; missing=()
for s in "${SPECS[@]}"; do
    f=$(deb_name "$s"); want="$want$f "
    [ -s "$OUT/debs/$f" ] || missing+=("$s")
done
# drop debs of other versions (stale inputs)
for f in "$OUT"/debs/*.deb; do
    [ -e "$f" ] || continue
    case "$want" in *" ${f##*/} "*) ;; *) rm -f "$f" ;; esac
done
if [ ${#missing[@]} -gt 0 ]; then
    log "downloading ${#missing[@]} packages"
    # "pkg:all=ver" is not accepted by apt-get download: use "pkg=ver" for arch all
    dl=(); for s in "${missing[@]}"; do case "$s" in *:all=*) dl+=("${s%%:*}=${s#*=}") ;; *) dl+=("$s") ;; esac; done
    (cd "$OUT/debs" && apt-get "${APT_O[@]}" download -qq -o APT::Sandbox::User=root "${dl[@]}")
fi
for s in "${SPECS[@]}"; do
    [ -s "$OUT/debs/$(deb_name "$s")" ] || die "download of $s missing ($(deb_name "$s"))"
done
deb_of() { echo "$OUT/debs/$(deb_name "$1")"; }

# ------------------------------------------------------------------- extract
W=$OUT/.work
rm -rf "$W"; mkdir -p "$W/kx" "$W/ux"
for s in "$XEN_SPEC" "$KERNEL_SPEC" "$BB_SPEC"; do dpkg -x "$(deb_of "$s")" "$W/kx"; done
for s in "${SPECS[@]}"; do
    case "$s" in "$XEN_SPEC"|"$KERNEL_SPEC"|"$BB_SPEC") continue ;; esac
    dpkg -x "$(deb_of "$s")" "$W/ux"
done
EX=$W/kx

xen_bin=
for f in "$EX"/boot/xen-*-arm64; do [ -f "$f" ] && xen_bin=$f && break; done
[ -n "$xen_bin" ] || die "no /boot/xen-*-arm64 in $XEN_SPEC"
kimg=$(ls "$EX"/boot/vmlinuz-* | head -n1)
KREL=${kimg##*/vmlinuz-}
is_arm64_image() { # arm64 Image header: magic "ARM\x64" at offset 0x38
    [ "$(dd if="$1" bs=1 skip=56 count=4 2>/dev/null | od -An -c | tr -d ' ')" = 'ARMd' ]
}
is_arm64_image "$xen_bin" || die "$xen_bin is not an arm64 Image"
is_arm64_image "$kimg" || die "$kimg is not an uncompressed arm64 Image (EFI zboot?)"

# ---------------------------------------------------------------- initramfs
MODBASE="$EX"; [ -d "$EX/lib/modules/$KREL" ] || MODBASE="$EX/usr"
MODROOT="$MODBASE/lib/modules/$KREL"
[ -d "$MODROOT" ] || die "no modules directory for $KREL"
"$DEPMOD" -b "$MODBASE" "$KREL"
BUSYBOX=$EX/bin/busybox; [ -f "$BUSYBOX" ] || BUSYBOX=$EX/usr/bin/busybox
[ -f "$BUSYBOX" ] || die "busybox binary not found in $BB_SPEC"
ST=$W/staging
mkdir -p "$ST"/{bin,sbin,usr/bin,usr/sbin,usr/share/misc,proc,sys,dev,tmp,run,etc,root,mnt/artifacts} \
         "$ST"/var/{lib/xen,log/xen,lock} "$ST/lib/modules/$KREL" "$ST/usr/lib/aarch64-linux-gnu"
ln -s ../run "$ST/var/run"
install -m 0755 "$BUSYBOX" "$ST/bin/busybox"

# add_modules LIST MOD...: copy MODs + their deps (load order) into the
# initramfs and append their paths to /etc/LIST. Built-in modules are skipped.
add_modules() {
local list=$ST/etc/$1 m line p q i; shift
touch "$list"
for m in "$@"; do
    if ! line=$(grep -E "(^|/)${m}\.ko(\.[gx]z|\.zst)?:" "$MODROOT/modules.dep" | head -n1) || [ -z "$line" ]; then
        if grep -qE "(^|/)${m//[-_]/[-_]}\.ko\$" "$MODROOT/modules.builtin"; then
            log "module $m is built into $KREL, not needed in the initramfs"
            continue
        fi
        die "module $m neither a module nor built into $KREL"
    fi
    # shellcheck disable=SC2206
    parts=(${line/:/})
    order=()
    for ((i = ${#parts[@]} - 1; i >= 1; i--)); do order+=("${parts[i]}"); done
    order+=("${parts[0]}")
    for p in "${order[@]}"; do
        # store uncompressed (trixie ships .ko.xz), so busybox insmod can load it
        q=${p%.xz}; q=${q%.gz}; q=${q%.zst}
        grep -qxF "$q" "$ST"/etc/modules.* && continue
        mkdir -p "$ST/lib/modules/$KREL/$(dirname "$q")"
        case "$p" in
        *.xz)  xz -dc "$MODROOT/$p" > "$ST/lib/modules/$KREL/$q" ;;
        *.gz)  gzip -dc "$MODROOT/$p" > "$ST/lib/modules/$KREL/$q" ;;
        *.zst) zstd -qdc "$MODROOT/$p" > "$ST/lib/modules/$KREL/$q" ;;
        *)     cp "$MODROOT/$p" "$ST/lib/modules/$KREL/$q" ;;
        esac
        chmod 0644 "$ST/lib/modules/$KREL/$q"
        echo "$q" >> "$list"
    done
done
}
# shellcheck disable=SC2086
add_modules modules.load $INITRD_MODULES
# shellcheck disable=SC2086
add_modules modules.xen $XEN_MODULES
cp "$MODROOT/modules.builtin" "$MODROOT/modules.builtin.modinfo" "$ST/lib/modules/$KREL/"
cat "$ST"/etc/modules.* > "$ST/lib/modules/$KREL/modules.order"
"$DEPMOD" -b "$ST" "$KREL"   # modules.alias(.bin) also feeds lspci -k

# --- userland: dropbear, pciutils, Xen toolstack + shared-library closure
UX=$W/ux
XLB=usr/lib/xen-$XV/bin
mkdir -p "$ST/$XLB"
for b in usr/sbin/dropbear usr/bin/dropbearkey usr/bin/lspci usr/bin/setpci; do
    [ -f "$UX/$b" ] || die "$b missing from the extracted debs"
    install -m 0755 "$UX/$b" "$ST/$b"
done
for b in xl xenstored xenconsoled xenconsole xen-init-dom0; do
    [ -f "$UX/$XLB/$b" ] || die "$XLB/$b missing from xen-utils-$XV"
    install -m 0755 "$UX/$XLB/$b" "$ST/$XLB/$b"
    # in PATH for console shells and for non-interactive "ssh host xl info"
    # (dropbear's PATH has /usr/bin in both its root and user defaults)
    ln -s "../lib/xen-$XV/bin/$b" "$ST/usr/bin/$b"
done
ids=; for f in "$UX"/usr/share/misc/pci.ids "$UX"/usr/share/hwdata/pci.ids; do [ -f "$f" ] && { ids=$f; break; }; done
[ -n "$ids" ] || die "pci.ids not found in $PCIIDS_SPEC"
install -m 0644 "$ids" "$ST/usr/share/misc/pci.ids"

# Copy the DT_NEEDED closure of every dynamic ELF into /usr/lib/aarch64-linux-gnu
# (a default search directory of Debian's arm64 ld.so; /lib/aarch64-linux-gnu
# is a symlink to it as on merged-/usr systems).
ln -s ../usr/lib/aarch64-linux-gnu "$ST/lib/aarch64-linux-gnu"
LIBDST=$ST/usr/lib/aarch64-linux-gnu
find_lib() { local d; for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
    [ -e "$UX/$d/$1" ] && { echo "$UX/$d/$1"; return 0; }; done; return 1; }
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
queue=("$ST"/usr/sbin/dropbear "$ST"/usr/bin/dropbearkey "$ST"/usr/bin/lspci "$ST"/usr/bin/setpci "$ST"/$XLB/*)
# glibc dlopen()s libgcc_s for pthread_cancel/unwinding: include it if packaged
find_lib libgcc_s.so.1 >/dev/null && queue+=("$(find_lib libgcc_s.so.1)")
while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}; queue=("${queue[@]:1}")
    case "$f" in "$ST"/*) ;; *)   # a library still in the extract tree
        n=${f##*/}
        [ -e "$LIBDST/$n" ] && continue
        install -m 0755 "$(readlink -f "$f")" "$LIBDST/$n"
        f=$LIBDST/$n ;;
    esac
    for n in $(needed "$f"); do
        [ -e "$LIBDST/$n" ] && continue
        src=$(find_lib "$n") || die "$n (needed by ${f##*/}) is in none of the library packages"
        queue+=("$src")
    done
done
# ELF interpreter path is /lib/ld-linux-aarch64.so.1 on every suite
[ -e "$LIBDST/ld-linux-aarch64.so.1" ] || die "ld-linux-aarch64.so.1 missing"
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$ST/lib/ld-linux-aarch64.so.1"
# final check: every DT_NEEDED of every ELF in the initramfs resolves
for f in "$ST"/usr/sbin/dropbear "$ST"/usr/bin/* "$ST"/$XLB/* "$LIBDST"/*; do
    [ -L "$f" ] && continue
    for n in $(needed "$f"); do
        [ -e "$LIBDST/$n" ] || die "readelf check: $n (needed by ${f##*/}) missing"
    done
done
DROPBEAR_V=${DROPBEAR_SPEC#*=}

# --- /etc
cat > "$ST/etc/passwd" <<'EOF'
root:*:0:0:root:/root:/bin/sh
EOF
cat > "$ST/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
printf '/bin/sh\n' > "$ST/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$ST/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n10.0.2.15 farm\n' > "$ST/etc/hosts"
printf 'farm\n' > "$ST/etc/hostname"
mkdir -p "$ST/etc/xen" "$ST/etc/dropbear"
: > "$ST/etc/xen/xl.conf"
cat > "$ST/etc/profile" <<'EOF'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export PS1='root@farm:~# '
cd "$HOME" 2>/dev/null
EOF
chmod 0700 "$ST/root"

cat > "$ST/init" <<'EOF'
#!/bin/busybox sh
# Farm init (PID 1): FARM probe lines, management network (virtio-mmio NIC),
# 9p artifact share, Xen dom0 toolstack, dropbear; then "FARM: ready" and a
# root shell on the console, respawned forever. Never powers off, never exits.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp /var/empty
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
hostname farm
echo "FARM: init start uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
HV=none
if [ -r /sys/hypervisor/type ]; then
    HV=$(cat /sys/hypervisor/type)
    echo "FARM: hypervisor=$HV $(cat /sys/hypervisor/version/major 2>/dev/null).$(cat /sys/hypervisor/version/minor 2>/dev/null)"
else
    echo "FARM: hypervisor=none"
fi
echo "FARM: cmdline=$(cat /proc/cmdline)"
KREL=$(uname -r)
drv_of() { [ -e "$1/driver" ] && basename "$(readlink "$1/driver")"; }
net_by_driver() { # first network interface bound to driver $1
    for n in /sys/class/net/*; do
        [ "$(drv_of "$n/device")" = "$1" ] && { echo "${n##*/}"; return 0; }
    done
    return 1
}
while read -r m; do
    insmod "/lib/modules/$KREL/$m" 2>&1 | sed 's/^/FARM: insmod: /'
    # e1000e probes synchronously: set the link up at once, so its
    # autonegotiation (~0.6 s under Xen, ~2.8 s natively) overlaps the rest
    # of the boot; FARM-NET reports the carrier later
    case "$m" in */e1000e.ko)
        for n in /sys/class/net/*; do
            [ "$(drv_of "$n/device")" = e1000e ] && ip link set "${n##*/}" up
        done ;;
    esac
done < /etc/modules.load
has_class() { grep -qx "0x$1" /sys/bus/pci/devices/*/class 2>/dev/null; }
has_virtio() { grep -qx "0x$1" /sys/bus/virtio/devices/*/device 2>/dev/null; }
# wait (max ~10 s) for the NVMe namespace and the NICs, if the devices exist
i=0
while [ $i -lt 100 ]; do
    ok=1
    has_class 010802 && [ ! -b /dev/nvme0n1 ] && ok=0
    has_class 020000 && ! net_by_driver e1000e >/dev/null && ok=0
    has_virtio 0001 && ! net_by_driver virtio_net >/dev/null && ok=0
    [ $ok = 1 ] && break
    sleep 0.1; i=$((i + 1))
done
NIC=$(net_by_driver e1000e)
[ -n "$NIC" ] && ip link set "$NIC" up

# ---- management network (virtio-net on virtio-mmio), static
ip link set lo up
MGMT=$(net_by_driver virtio_net)
if [ -n "$MGMT" ]; then
    ip addr add 10.0.2.15/24 dev "$MGMT"
    ip link set "$MGMT" up
    ip route add default via 10.0.2.2 dev "$MGMT"
    echo "FARM: mgmt if=$MGMT mac=$(cat "/sys/class/net/$MGMT/address") ip=10.0.2.15/24 gw=10.0.2.2"
else
    echo "FARM: mgmt none (no virtio_net interface)"
fi

# ---- 9p artifact share (mount_tag "artifacts"), read-only
if grep -qsx artifacts /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; then
    if mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose artifacts /mnt/artifacts 2>/tmp/9p.err; then
        echo "FARM: 9p artifacts mounted ro on /mnt/artifacts ($(ls /mnt/artifacts | wc -l) entries)"
    else
        echo "FARM: 9p mount failed: $(cat /tmp/9p.err)"
    fi
else
    echo "FARM: 9p no 'artifacts' share"
fi

# ---- Xen toolstack (dom0 only; a domU booting this initramfs skips it)
DOM=none
if [ "$HV" = xen ]; then
    # xen-pciback only in dom0 (in a domU it fails with ENODEV)
    while read -r m; do
        case "$m" in */xen-pciback.ko) continue ;; esac
        insmod "/lib/modules/$KREL/$m" 2>&1 | sed 's/^/FARM: insmod: /'
    done < /etc/modules.xen
    mount -t xenfs xenfs /proc/xen
    if grep -qs control_d /proc/xen/capabilities; then
        DOM=dom0
        while read -r m; do
            case "$m" in */xen-pciback.ko)
                insmod "/lib/modules/$KREL/$m" 2>&1 | sed 's/^/FARM: insmod: /' ;;
            esac
        done < /etc/modules.xen
        mkdir -p /run/xenstored /run/xen /var/lib/xen /var/log/xen /var/lock
        # daemons: no pipe (a daemon keeping the pipe open would block init)
        xenstored --pid-file=/run/xenstored.pid >/tmp/xenstored.log 2>&1
        echo "FARM-XL: xenstored rc=$? $(cat /tmp/xenstored.log)"
        xen-init-dom0 >/tmp/xen-init-dom0.log 2>&1
        echo "FARM-XL: xen-init-dom0 rc=$? $(tr '\n' ' ' < /tmp/xen-init-dom0.log)"
        xenconsoled --pid-file=/run/xenconsoled.pid >/tmp/xenconsoled.log 2>&1
        echo "FARM-XL: xenconsoled rc=$? $(cat /tmp/xenconsoled.log)"
        xl info 2>&1 | grep -E '^(xen_version|xen_caps|virt_caps|total_memory|free_memory)' | sed 's/^/FARM-XL: info: /'
    else
        DOM=domU
    fi
    echo "FARM: xen domain=$DOM"
fi

# ---- probe (same lines as the shared init)
echo "FARM: ---- pci devices (/sys/bus/pci/devices) ----"
for d in /sys/bus/pci/devices/*; do
    [ -e "$d" ] || { echo "FARM-PCI: none"; break; }
    bdf=${d##*/}
    drv=$(drv_of "$d"); drv=${drv:--}
    grp=-; [ -e "$d/iommu_group" ] && grp=$(basename "$(readlink "$d/iommu_group")")
    msi=-
    if [ -d "$d/msi_irqs" ]; then
        n=$(ls "$d/msi_irqs" | grep -c '^[0-9]')
        [ "$n" -gt 0 ] && msi="$(cat "$d"/msi_irqs/[0-9]* 2>/dev/null | sort -u | tr '\n' '+' | sed 's/+$//'):$n"
    fi
    echo "FARM-PCI: $bdf class=$(cat "$d/class") id=$(cat "$d/vendor"):$(cat "$d/device") rev=$(cat "$d/revision" 2>/dev/null) driver=$drv irq=$(cat "$d/irq") msi=$msi iommu_group=$grp"
    n=0
    while read -r start end flags; do
        if [ "$start" != 0x0000000000000000 ] || [ "$end" != 0x0000000000000000 ]; then
            name="BAR$n"; [ $n = 6 ] && name=ROM; [ $n -gt 6 ] && name="RES$n"
            echo "FARM-PCI:   $bdf $name $start-$end flags=$flags"
        fi
        n=$((n + 1))
    done < "$d/resource"
done

if [ -b /dev/nvme0n1 ]; then
    sig=$(dd if=/dev/nvme0n1 bs=512 count=1 2>/dev/null | head -c 32 | tr -dc 'A-Za-z0-9_-')
    echo "FARM-NVME: nvme0n1 size=$(cat /sys/block/nvme0n1/size) sectors sector0='$sig'"
else
    echo "FARM-NVME: no /dev/nvme0n1"
fi
if [ -n "$NIC" ]; then
    # link was set up before the probe; wait only for what is left (max 5 s)
    i=0
    while [ $i -lt 50 ] && [ "$(cat "/sys/class/net/$NIC/carrier" 2>/dev/null)" != 1 ]; do
        sleep 0.1; i=$((i + 1))
    done
    echo "FARM-NET: $NIC mac=$(cat "/sys/class/net/$NIC/address") carrier=$(cat "/sys/class/net/$NIC/carrier" 2>/dev/null) driver=e1000e"
else
    echo "FARM-NET: no e1000e interface"
fi

echo "FARM: ---- /proc/interrupts (nvme/eth/MSI/ITS) ----"
grep -E 'nvme|eth|MSI|ITS' /proc/interrupts | sed 's/^ *//; s/^/FARM-IRQ: /'
pcie=$(ls -d /proc/device-tree/pcie@* 2>/dev/null | head -n1)
yn() { [ -e "$1" ] && echo yes || echo no; }
echo "FARM-DT: msi-controller_nodes=$(find /proc/device-tree/ -name msi-controller 2>/dev/null | wc -l) pcie_node=${pcie##*/} msi-map=$(yn "$pcie/msi-map") msi-parent=$(yn "$pcie/msi-parent") iommu-map=$(yn "$pcie/iommu-map") iommu_groups=$(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)"
echo "FARM: ---- dmesg | grep -E 'pci|PCI|ECAM|BAR |nvme|e1000e|MSI|ITS|smmu|SMMU|iommu|IOMMU' ----"
dmesg | grep -E 'pci|PCI|ECAM|BAR |nvme|e1000e|MSI|ITS|smmu|SMMU|iommu|IOMMU' | sed 's/^/FARM-DMESG: /'

# ---- ssh: dropbear, public-key only, key from farm.sshkey=<type>:<base64>
mkdir -p -m 0700 /root/.ssh
: > /root/.ssh/authorized_keys
for w in $(cat /proc/cmdline); do
    case "$w" in farm.sshkey=*:*)
        k=${w#farm.sshkey=}
        echo "${k%%:*} ${k#*:} farm" >> /root/.ssh/authorized_keys ;;
    esac
done
chmod 0600 /root/.ssh/authorized_keys
[ -s /root/.ssh/authorized_keys ] || echo "FARM: ssh WARNING: no farm.sshkey= on the command line, nobody can log in"
HK=/etc/dropbear/dropbear_ed25519_host_key
dropbearkey -t ed25519 -f "$HK" >/dev/null 2>&1 ||
    { HK=/etc/dropbear/dropbear_ecdsa_host_key; dropbearkey -t ecdsa -f "$HK" >/dev/null 2>&1; }
if dropbear -r "$HK" -p 22 -s -P /run/dropbear.pid 2>/tmp/dropbear.err; then
    echo "FARM: ssh dropbear port=22 hostkey=$(dropbearkey -y -f "$HK" 2>/dev/null | sed -n 's/^Fingerprint: //p')"
else
    echo "FARM: ssh dropbear failed: $(cat /tmp/dropbear.err)"
fi

echo "FARM: done uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "FARM: ready"
# ---- console shell, respawned; PID 1 itself never exits
trap '' INT QUIT TSTP
while :; do
    # the subshell is not a process-group leader, so setsid does not fork
    # and we really wait for the shell; cttyhack opens the real console
    # (hvc0 under Xen, ttyAMA0 natively) as controlling tty
    ( exec setsid cttyhack sh -l )
    echo "FARM: console shell exited, respawning"
    sleep 1
done
EOF
chmod 0755 "$ST/init"

# reproducible cpio: sorted names, fixed owner and mtime, no gzip name/time
find "$ST" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(
    cd "$ST"
    find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc --reproducible -R 0:0
) | gzip -9 -n > "$OUT/initrd.cpio.gz.tmp"
install -m 0644 "$xen_bin" "$OUT/xen"
install -m 0644 "$kimg" "$OUT/vmlinuz"
mv "$OUT/initrd.cpio.gz.tmp" "$OUT/initrd.cpio.gz"
[ "${KEEP_EXTRACT:-0}" = 1 ] || rm -rf "$W"

{
    echo "suite=$SUITE"
    echo "xen_pkg=$XEN_SPEC"
    echo "kernel_pkg=$KERNEL_SPEC"
    echo "kernel_release=$KREL"
    echo "busybox_pkg=$BB_SPEC"
    echo "dropbear_pkg=$DROPBEAR_SPEC"
    echo "pciutils_pkg=$PCIUTILS_SPEC"
    echo "libpci_pkg=$LIBPCI_SPEC"
    echo "pciids_pkg=$PCIIDS_SPEC"
    echo "xen_utils_pkg=$XENUTILS_SPEC"
    echo "xen_libs_pkg=$XENMISC_SPEC"
    echo "lib_pkgs=${LIB_SPECS[*]}"
    echo "initrd_modules=$INITRD_MODULES"
    echo "xen_modules=$XEN_MODULES"
    echo "dropbear_version=$DROPBEAR_V"
    echo "source_date_epoch=$SOURCE_DATE_EPOCH"
    echo "script_sha256=$SCRIPT_SHA"
    echo "inputs_sha256=$INPUTS_SHA"
    (cd "$OUT" && sha256sum xen vmlinuz initrd.cpio.gz && for s in "${SPECS[@]}"; do
        sha256sum "debs/$(deb_name "$s")"; done)
} > "$OUT/MANIFEST.tmp"
mv "$OUT/MANIFEST.tmp" "$OUT/MANIFEST"
log "done: $OUT ($(du -h "$OUT/initrd.cpio.gz" | cut -f1) initrd)"
cat "$OUT/MANIFEST" >&2
