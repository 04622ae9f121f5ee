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
# The matrix: Debian Xen 4.17 + dom0, the self-built Xen with vPCI, and the same Linux natively as the baseline.
JOBS=(${FARM_NIGHTLY_JOBS:-jobs/native-smoke.yaml jobs/xen-smoke.yaml jobs/xen-vpci-smoke.yaml jobs/xen-guest.yaml jobs/xen-guest-pci.yaml jobs/xen-guest-pci-vpci.yaml})
# farm nightly: healthy boards only, lab failures retried once on another board, nightly-*.json.
"$FARM" nightly "${JOBS[@]}" --out "$OUT"; worst=$?
"$FARM" report nightly --out "$OUT" || true
exit $worst
