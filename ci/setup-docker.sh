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

IMAGE=farm-xen-builder:bookworm
PKGS="gcc,libc6-dev,make,bison,flex,python3,bc,xz-utils,file,patch,gcc-aarch64-linux-gnu,binutils-aarch64-linux-gnu"
inputs=$(printf 'bookworm minbase %s\n' "$PKGS" | sha256sum | cut -c1-16)
if [ "$(docker -H "$host" image inspect "$IMAGE" --format '{{index .Config.Labels "farm.inputs"}}' 2>/dev/null)" != "$inputs" ]; then
    root=$(mktemp -d /tmp/farm-builder-root.XXXXXX)
    log "debootstrap bookworm ($PKGS) -> $IMAGE"
    . ci/debian-mirror.sh
    mirror=$(host_debian_mirror)
    [ -n "$mirror" ] || { log "no Debian mirror in /etc/apt/sources.list{,.d}: set FARM_DEBIAN_MIRROR"; rm -rf "$root"; exit 1; }
    debootstrap --variant=minbase --include="$PKGS" bookworm "$root" "$mirror" >/tmp/farm-debootstrap.log 2>&1 \
        || { tail -n 20 /tmp/farm-debootstrap.log >&2; rm -rf "$root"; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker -H "$host" import --change "LABEL farm.inputs=$inputs" --change 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
    rm -rf "$root"
fi
log "engine $host, image $IMAGE ($(docker -H "$host" image inspect "$IMAGE" --format '{{.Id}}' | cut -c1-19))"
echo "$host"
