#!/usr/bin/env bash
# ci/bench-guest.sh - the guest section of ci/bench: a plain domU (jobs/xen-guest.yaml) on Debian's
# Xen, ROUNDS times; from each run.json:
#   dom0 ready -> guest prompt   boot.ssh-ready.seconds to guest.g1.prompt.seconds (both from power-on):
#                                dom0 commands, xl create -p, xl console attached, unpause, guest boot
#   create/destroy cycle         stages guest-create + guest-prompt + guest-destroy of g1
# Prints medians (min/median/max) and writes OUT/guest.json. Usage: ci/bench-guest.sh [ROUNDS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
OUT=${2:-artifacts/bench}
FARM=${BENCH_FARM:-.cache/farm/farm}
JOB=jobs/xen-guest.yaml
stats() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f %.3f %.3f", a[1], m, a[NR]}'; }
mkdir -p "$OUT/guest"
ready=() cycle=()
for ((r = 1; r <= ROUNDS; r++)); do
    "$FARM" run "$JOB" --out "$OUT/guest" >/dev/null || true   # the checks' verdict does not matter here
    d=$(ls -td "$OUT"/guest/*/ | head -n1)
    m=$(jq -c '.metrics' "$d/run.json")
    jq -e '.["guest.g1.prompt.seconds"] and .["boot.ssh-ready.seconds"]' <<<"$m" >/dev/null ||
        { echo "bench-guest: run $d never reached the guest prompt" >&2; exit 1; }
    ready+=("$(jq '.["guest.g1.prompt.seconds"] - .["boot.ssh-ready.seconds"]' <<<"$m")")
    cycle+=("$(jq '[.["stage.guest-create.g1.seconds"], .["stage.guest-prompt.g1.seconds"], .["stage.guest-destroy.g1.seconds"]] | add' <<<"$m")")
    printf '[bench] guest %d: dom0 ready -> guest prompt %.2f s, create/destroy cycle %.2f s\n' "$r" "${ready[-1]}" "${cycle[-1]}" >&2
done
read -r rmin rmed rmax <<<"$(stats "${ready[@]}")"
read -r cmin cmed cmax <<<"$(stats "${cycle[@]}")"
printf '\nguest: plain domU on Debian Xen 4.17 (%s), median of %d\n' "$JOB" "$ROUNDS"
printf '  dom0 ready -> guest prompt: %6.3f s (min %.3f, max %.3f)\n' "$rmed" "$rmin" "$rmax"
printf '  create/destroy cycle:       %6.3f s (min %.3f, max %.3f)\n' "$cmed" "$cmin" "$cmax"
cat > "$OUT/guest.json" <<JSON
{"name": "guest", "runs": $ROUNDS, "dom0ReadyToGuestPromptSeconds": $rmed, "createDestroyCycleSeconds": $cmed,
 "dom0ReadyToGuestPrompt": {"min": $rmin, "max": $rmax}, "createDestroyCycle": {"min": $cmin, "max": $cmax}}
JSON
