#!/usr/bin/env bash
# ci/setup.sh - everything Farm needs on a fresh Debian bookworm machine, idempotent.
#   host packages (QEMU, expect, socat, ...), the arm64 artifact set, the Allure CLI,
#   and a Release build of farm. Needs root for apt-get (CI runs as root).
# Environment: FARM_SKIP_ARTIFACTS=1  do not build the artifact set
#              FARM_SKIP_ALLURE=1     do not install the npm allure CLI
#              FARM_SKIP_QEMU10=1     do not unpack QEMU 10 into .cache/qemu-10
#              FARM_SKIP_DOCKER=1     do not start a container engine / build the Xen build image
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }

# Host tools. --no-install-recommends keeps QEMU small; e1000e then needs romfile= (see boards/).
# clang (with binutils' ld) links the Native AOT farm executable.
PKGS=(qemu-system-arm qemu-utils u-boot-qemu socat ser2net snmpd snmp pdudaemon openipmi ipmitool postgresql expect bc jq pv cpio kmod binutils xz-utils zstd openssh-client util-linux procps chromium fonts-dejavu-core clang)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "[setup] need root to install: ${missing[*]}" >&2; exit 2; }
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# QEMU 10 (stage-2 SMMUv3 for Xen) in .cache/qemu-10, beside the system QEMU 7.2 (boards/qemu.yaml says which board runs which).
[ "${FARM_SKIP_QEMU10:-0}" = 1 ] || bash ci/setup-qemu10.sh >/dev/null || log "WARNING: no QEMU 10; the SMMU boards (qemu-xen-smmu, qemu-xen-vpci-smmu) will refuse jobs and say why"
[ "${FARM_SKIP_ARTIFACTS:-0}" = 1 ] || bash ci/artifacts.sh
[ "${FARM_SKIP_ALLURE:-0}" = 1 ] || [ ! -f ci/setup-allure.sh ] || bash ci/setup-allure.sh
# The container engine and the Xen build image (farm build xen).
[ "${FARM_SKIP_DOCKER:-0}" = 1 ] || bash ci/setup-docker.sh >/dev/null || log "WARNING: no container engine; farm build xen (and its scenarios) will say so"

log "dotnet build (Release)"
dotnet build Farm.sln -c Release -nologo -v quiet -clp:ErrorsOnly
# The farm executable proper, compiled ahead of time to native code (Native AOT, Farm.csproj): no JIT
# and no type loading at start-up, so Farm's own CPU per boot is ~0.085 s where composite ReadyToRun
# took ~0.4 s (ci/bench overhead, README "Speed"). Skipped when nothing changed since the last publish.
stamp=$(cat Directory.Build.props farm/Farm.csproj $(find farm -name '*.cs' | sort) | sha256sum | cut -c1-16)
if [ "$(cat .cache/farm/.stamp 2>/dev/null)" != "$stamp" ] || [ ! -x .cache/farm/farm ]; then
    log "dotnet publish farm -> .cache/farm/farm (Native AOT)"
    rm -rf .cache/farm
    dotnet publish farm/Farm.csproj -c Release -r linux-x64 -o .cache/farm -nologo -v quiet -clp:ErrorsOnly
    rm -f .cache/farm/farm.dbg  # 100 MB of symbols; farm prints its own stack traces without them
    echo "$stamp" > .cache/farm/.stamp
fi
log "ready: .cache/farm/farm"
