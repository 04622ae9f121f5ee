#!/usr/bin/env bash
# ci/test.sh - the README's test command: set up, then run the unit/golden tests (tests/) and
# the scenarios against real QEMU targets (scenarios/; [Category("Hil")] needs a physical bench
# and is excluded unless FARM_HIL=1). Last line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

out=artifacts/test-results
mkdir -p "$out"
filter=()
[ "${FARM_HIL:-0}" = 1 ] || filter=(--filter "TestCategory!=Hil")
rc=0
# The scenarios that start the farm executable start the published one, the nightly's and ci/bench's (Native AOT).
export FARM_CLI="$PWD/.cache/farm/farm"
for proj in tests/Farm.Tests.csproj scenarios/Farm.Scenarios.csproj; do
    name=$(basename "$proj" .csproj)
    dotnet test "$proj" -c Release --no-build -nologo "${filter[@]}" \
        --logger "trx;LogFileName=$name.trx" --logger "junit;LogFilePath=$PWD/$out/$name.junit.xml" \
        --results-directory "$out" 2>&1 | tee "$out/$name.log" || rc=1
done
# Sum the runners' own summary lines ("Passed!  - Failed: 0, Passed: 19, Skipped: 0, ...").
cat "$out"/*.log | awk '
    /(Passed|Failed)! +- +Failed:/ {
        for (i = 1; i <= NF; i++) { v = $(i+1); gsub(",", "", v)
            if ($i == "Failed:") f += v; if ($i == "Passed:") p += v; if ($i == "Skipped:") s += v }
        seen = 1 }
    END { if (!seen) f = f + 1; printf "%d passed, %d failed, %d skipped\n", p, f, s }'
exit $rc
