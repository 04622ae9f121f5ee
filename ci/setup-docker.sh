#!/usr/bin/env bash
# ci/setup-docker.sh - the container engine and the Xen build image, idempotent.
#   1. Debian's docker.io (+ debootstrap, dpkg-dev for `farm build xen --source debian:SUITE`).
#   2. An engine: DOCKER_HOST if set (a lab's existing engine), else the system one at
#      /var/run/docker.sock if it answers, else Farm's own dockerd on /run/farm-docker.sock
#      (no iptables, no bridge: builds run with --network none).
#   3. The image farm-xen-builder:bookworm, made without a registry: debootstrap of Debian
#      bookworm (the suite whose compiler builds bookworm's Xen) with the arm64 cross toolchain
#      and Xen's hypervisor build dependencies, imported with `docker import`. Rebuilt only when
#      its package list changes (label farm.inputs).
#   4. The image farm-xen-builder-tools:bookworm for `farm build xen --tools`: the same plus what
#      Xen's tools/configure needs, with arm64 -dev packages installed multiarch in the chroot.
#      A separate tag, so the hypervisor image and every build keyed by its id stay as they are.
# Prints the engine's DOCKER_HOST on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup-docker] %s\n' "$*" >&2; }

need=()
for p in docker.io debootstrap dpkg-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

answers() { timeout 10 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if [ -n "${DOCKER_HOST:-}" ]; then
    answers "$DOCKER_HOST" || { log "DOCKER_HOST=$DOCKER_HOST does not answer"; exit 1; }
    host=$DOCKER_HOST
elif [ -S /var/run/docker.sock ] && answers unix:///var/run/docker.sock; then
    host=unix:///var/run/docker.sock
else
    host=unix:///run/farm-docker.sock
    if ! answers "$host"; then
        log "starting dockerd on $host (data in /var/lib/farm-docker, log /var/log/farm-dockerd.log)"
        mkdir -p /var/lib/farm-docker /run/farm-docker
        setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none --data-root /var/lib/farm-docker \
            --exec-root /run/farm-docker --pidfile /run/farm-docker.pid -H "$host" >/var/log/farm-dockerd.log 2>&1 < /dev/null &
        for _ in $(seq 1 60); do answers "$host" && break; sleep 0.5; done
        answers "$host" || { log "dockerd did not start:"; tail -n 20 /var/log/farm-dockerd.log >&2; exit 1; }
    fi
fi

. ci/debian-mirror.sh
# make_image IMAGE HOST_PKGS [ARM64_PKGS]: debootstrap bookworm with HOST_PKGS; with ARM64_PKGS, arm64 is
# added as a dpkg architecture inside the chroot (which has the host's network while it is set up) and
# those -dev packages are installed there, so the cross compiler finds their headers and libraries in
# its multiarch paths. Rebuilt only when its inputs change (label farm.inputs).
make_image() {
    local image=$1 pkgs=$2 arm64=${3:-} inputs root mirror
    if [ -z "$arm64" ]; then inputs=$(printf 'bookworm minbase %s\n' "$pkgs" | sha256sum | cut -c1-16)
    else inputs=$(printf 'bookworm minbase %s arm64 %s\n' "$pkgs" "$arm64" | sha256sum | cut -c1-16); fi
    [ "$(docker -H "$host" image inspect "$image" --format '{{index .Config.Labels "farm.inputs"}}' 2>/dev/null)" = "$inputs" ] && return 0
    root=$(mktemp -d /tmp/farm-builder-root.XXXXXX)
    log "debootstrap bookworm ($pkgs${arm64:+; arm64: $arm64}) -> $image"
    mirror=$(host_debian_mirror)
    [ -n "$mirror" ] || { log "no Debian mirror in /etc/apt/sources.list{,.d}: set FARM_DEBIAN_MIRROR"; rm -rf "$root"; return 1; }
    debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$mirror" >/tmp/farm-debootstrap.log 2>&1 \
        || { tail -n 20 /tmp/farm-debootstrap.log >&2; rm -rf "$root"; return 1; }
    if [ -n "$arm64" ]; then
        cp /etc/resolv.conf "$root/etc/resolv.conf"
        mount -t proc proc "$root/proc"
        # shellcheck disable=SC2086
        if ! { chroot "$root" dpkg --add-architecture arm64 &&
               chroot "$root" apt-get update -qq &&
               DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends ${arm64//,/ }; } \
               >/tmp/farm-debootstrap-arm64.log 2>&1; then
            umount "$root/proc"; tail -n 20 /tmp/farm-debootstrap-arm64.log >&2; rm -rf "$root"; return 1
        fi
        umount "$root/proc"
        : > "$root/etc/resolv.conf"
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker -H "$host" import --change "LABEL farm.inputs=$inputs" --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
    rm -rf "$root"
}

IMAGE=farm-xen-builder:bookworm
PKGS="gcc,libc6-dev,make,bison,flex,python3,bc,xz-utils,file,patch,gcc-aarch64-linux-gnu,binutils-aarch64-linux-gnu"
make_image "$IMAGE" "$PKGS"
log "engine $host, image $IMAGE ($(docker -H "$host" image inspect "$IMAGE" --format '{{.Id}}' | cut -c1-19))"

# The toolstack image (`farm build xen --tools`): a separate tag, so the hypervisor-only image, its
# builds' cache keys and bisects stay as they are. Host side: autoconf (Debian's source ships no
# configure), iasl (tools/configure requires it for aarch64), cpio (the dom0 initramfs is rebuilt in
# the container). arm64 side: what Xen 4.17's tools/configure requires (uuid, curses, yajl, zlib,
# fdt) and pkgconf for aarch64-linux-gnu-pkg-config. FARM_SKIP_TOOLS_IMAGE=1 skips it.
if [ "${FARM_SKIP_TOOLS_IMAGE:-0}" != 1 ]; then
    TOOLS_IMAGE=farm-xen-builder-tools:bookworm
    TOOLS_PKGS="$PKGS,autoconf,autotools-dev,acpica-tools,pkgconf,perl,cpio,gzip"
    ARM64_PKGS="libc6-dev:arm64,uuid-dev:arm64,libncurses-dev:arm64,libyajl-dev:arm64,zlib1g-dev:arm64,libfdt-dev:arm64,pkgconf:arm64"
    make_image "$TOOLS_IMAGE" "$TOOLS_PKGS" "$ARM64_PKGS"
    log "engine $host, image $TOOLS_IMAGE ($(docker -H "$host" image inspect "$TOOLS_IMAGE" --format '{{.Id}}' | cut -c1-19))"
fi
echo "$host"
