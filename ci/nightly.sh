#!/usr/bin/env bash
# ci/nightly.sh - the main job: a nightly-style vPCI run on the local QEMU board(s).
# Sets itself up (ci/setup.sh), runs each job of the nightly set with the embedded SQLite store
# (artifacts/farm.db), writes run.json, console transcripts, evidence, JUnit and Allure results
# per run, and renders the report. Exit code: the worst verdict (0 pass, 1 fail, 2 error, 3 incomplete).
set -uo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh || exit 2
FARM=.cache/farm/farm
OUT=${FARM_OUT:-artifacts}
# A Xen with PCI passthrough, built from Debian's source in a container (a cache hit when nothing
# changed); if it cannot be built, its target ends "error" with the reason and the others still run.
"$FARM" build xen --source debian:bookworm --patch ci/xen/patches/xen-4.17-arm-pci-passthrough.patch \
    --artifacts-from bookworm --name xen-vpci || { rm -f .cache/artifacts/xen-vpci; echo "[nightly] farm build xen failed: xen-vpci-smoke will say why" >&2; }
# The same with Farm's SMMUv3 iommu-map patch (issue 17 step 0), booted on the stage-2 SMMU board (QEMU 10).
"$FARM" build xen --source debian:bookworm --patch ci/xen/patches/xen-4.17-arm-pci-passthrough.patch \
    --patch ci/xen/patches/xen-4.17-arm-smmuv3-pci-iommu-map.patch --artifacts-from bookworm --name xen-vpci-smmu \
    || { rm -f .cache/artifacts/xen-vpci-smmu; echo "[nightly] farm build xen (SMMU patch) failed: its jobs will say why" >&2; }
# The same Xen with dom0's toolstack (xl, libxl, xenstored, xenconsoled) built from the same tree, so a
# change on the tools side is tested whole (the tools build is cached apart from the hypervisor's).
"$FARM" build xen --source debian:bookworm --patch ci/xen/patches/xen-4.17-arm-pci-passthrough.patch \
    --artifacts-from bookworm --name xen-vpci-tools --tools \
    || { rm -f .cache/artifacts/xen-vpci-tools; echo "[nightly] farm build xen --tools failed: xen-vpci-tools-guest will say why" >&2; }
# Farm's domU vPCI patches (issue 17 steps 1-4) with their own toolstack: a guest with the NVMe and e1000e
# at virtual SBDFs on its own bridge, BARs mapped where it placed them, INTx routed, DMA through the SMMU.
P=ci/xen/patches
"$FARM" build xen --source debian:bookworm --patch $P/xen-4.17-arm-pci-passthrough.patch --patch $P/xen-4.17-arm-smmuv3-pci-iommu-map.patch \
    --patch $P/xen-4.17-arm-vpci-guest.patch --patch $P/xen-4.17-arm-vpci-guest-toolstack.patch --patch $P/xen-4.17-arm-vpci-guestbars.patch \
    --patch $P/xen-4.17-arm-vpci-guestintx.patch --artifacts-from bookworm --name xen-vpci-guest-intx --tools \
    || { rm -f .cache/artifacts/xen-vpci-guest-intx; echo "[nightly] farm build xen (domU vPCI patches) failed: xen-guest-pci-smmu-vpci will say why" >&2; }
# The matrix: Debian Xen 4.17 + dom0, the self-built Xen with vPCI (without and with an SMMU it can use),
# a plain domU and a domU with the NVMe and e1000e on each, a plain domU under the tree's own toolstack,
# and the same Linux natively as the baseline.
JOBS=(${FARM_NIGHTLY_JOBS:-jobs/native-smoke.yaml jobs/xen-smoke.yaml jobs/xen-vpci-smoke.yaml jobs/xen-vpci-smmu-patched-smoke.yaml
      jobs/xen-guest.yaml jobs/xen-guest-pci.yaml jobs/xen-guest-pci-vpci.yaml jobs/xen-guest-pci-smmu.yaml
      jobs/xen-vpci-tools-guest.yaml jobs/xen-guest-pci-smmu-vpci.yaml})
# farm nightly: healthy boards only, lab failures retried once on another board, nightly-*.json.
"$FARM" nightly "${JOBS[@]}" --out "$OUT"; worst=$?
"$FARM" report nightly --out "$OUT" || true
exit $worst
