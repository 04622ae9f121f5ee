#!/usr/bin/env bash
# ci/setup.sh - everything Farm needs on a fresh Debian bookworm machine, idempotent.
#   host packages (QEMU, expect, socat, ...), the arm64 artifact set, the Allure CLI,
#   and a Release build of farm. Needs root for apt-get (CI runs as root).
# Environment: FARM_SKIP_ARTIFACTS=1  do not build the artifact set
#              FARM_SKIP_ALLURE=1     do not install the npm allure CLI
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

# Host tools. --no-install-recommends keeps QEMU small; e1000e then needs romfile= (see boards/).
PKGS=(qemu-system-arm qemu-utils socat expect bc cpio kmod binutils xz-utils zstd openssh-client util-linux procps)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "[setup] need root to install: ${missing[*]}" >&2; exit 2; }
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${FARM_SKIP_ARTIFACTS:-0}" = 1 ] || bash ci/artifacts.sh
[ "${FARM_SKIP_ALLURE:-0}" = 1 ] || [ ! -f ci/setup-allure.sh ] || bash ci/setup-allure.sh

log "dotnet build (Release)"
dotnet build Farm.sln -c Release -nologo -v quiet -clp:ErrorsOnly
# The farm executable proper: ReadyToRun, so start-up is not spent in the JIT (see ci/bench).
log "dotnet publish farm -> .cache/farm/farm"
dotnet publish farm/Farm.csproj -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o .cache/farm -nologo -v quiet -clp:ErrorsOnly
log "ready: .cache/farm/farm"
