#!/usr/bin/env bash
# ci/bench-consoles.sh [CONSOLES] [SECONDS] - console broker CPU per console at 115200 baud.
#
#   N socat null-modem cables; on one end of each, pv(1) writes at 11,520 bytes/s (115200 8N1)
#   for SECONDS; on the other end either
#     farm:  `farm capture` (one epoll loop, brokers, .log + .raw transcripts), or
#     bare:  one cat(1) per tty into a file (the least a reader can do),
#   measured in the same run. Prints CPU % of one core per console for each and their ratio,
#   checks farm's transcripts are byte-identical to what was sent, writes artifacts/bench/consoles.json.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-64}
SECS=${2:-10}
RATE=11520
FARM=.cache/farm/farm
OUT=artifacts/bench/consoles
rm -rf "$OUT"; mkdir -p "$OUT"
command -v pv >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pv >/dev/null; }
SIZE=$((RATE * SECS))
head -c $SIZE /dev/urandom > "$OUT/payload"

cables() {  # $1 = dir: N socat pairs, links $1/a$i (board side) and $1/b$i (Farm side); pids in $1/socat.pids
    mkdir -p "$1"; : > "$1/socat.pids"
    for ((i = 0; i < N; i++)); do socat pty,raw,echo=0,link="$1/a$i" pty,raw,echo=0,link="$1/b$i" & echo $! >> "$1/socat.pids"; done
    for ((i = 0; i < N; i++)); do while [ ! -e "$1/b$i" ] || [ ! -e "$1/a$i" ]; do sleep 0.01; done; done
}
feed() {    # $1 = dir, $2 = transcript dir: every board writes the payload at 115200 baud
    local t0 t1 pids=() deadline
    t0=$(date +%s.%N)
    for ((i = 0; i < N; i++)); do pv -q -L $RATE "$OUT/payload" > "$1/a$i" & pids+=($!); done
    wait "${pids[@]}"
    # socat keeps a PTY pair up after the writer closes, so the cable is pulled (socat killed)
    # once every reader has all the bytes, or after 30 s (then cmp counts the loss).
    deadline=$((SECONDS + 30))
    for ((i = 0; i < N; i++)); do
        while [ "$(stat -c %s "$2/b$i.raw" 2>/dev/null || echo 0)" -lt $SIZE ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    done
    t1=$(date +%s.%N)
    kill $(cat "$1/socat.pids") 2>/dev/null || true
    echo "$t1 - $t0" | bc -l
}

# farm
cables "$OUT/farm"
ports=(); for ((i = 0; i < N; i++)); do ports+=("$OUT/farm/b$i"); done
"$FARM" capture "${ports[@]}" --out "$OUT/farm/transcripts" > "$OUT/farm.txt" &
capture=$!
sleep 0.5   # let capture open every port before the first byte
feed "$OUT/farm" "$OUT/farm/transcripts" >/dev/null
wait $capture
line=$(grep '^capture:' "$OUT/farm.txt")
farm_cpu=$(sed 's/.*cpu_s=\([0-9.]*\).*/\1/' <<<"$line")
farm_wall=$(sed 's/.*wall_s=\([0-9.]*\).*/\1/' <<<"$line")
bad=0
for ((i = 0; i < N; i++)); do cmp -s "$OUT/payload" "$OUT/farm/transcripts/b$i.raw" || bad=$((bad + 1)); done
wait

# bare: the same cables read by cat; bash's `times` gives the CPU of the subshell's children
cables "$OUT/bare"
( for ((i = 0; i < N; i++)); do cat "$OUT/bare/b$i" > "$OUT/bare/b$i.raw" 2>/dev/null & done; wait; times > "$OUT/bare-times.txt" ) &
readers=$!
sleep 0.5
bare_wall=$(feed "$OUT/bare" "$OUT/bare")
wait $readers
sec() { awk -F'[ms]' '{print $1 * 60 + $2}' <<<"$1"; }
read -r bu bs < <(tail -n1 "$OUT/bare-times.txt")
bare_cpu=$(echo "$(sec "$bu") + $(sec "$bs")" | bc -l)
wait

pct() { echo "100 * $1 / $2 / $N" | bc -l; }
farm_pct=$(pct "$farm_cpu" "$farm_wall"); bare_pct=$(pct "$bare_cpu" "$bare_wall")
printf '\nconsole broker: %d consoles at 115200 baud for %d s (%s, %s cores)\n' "$N" "$SECS" "$(uname -m)" "$(nproc)"
printf '  %-30s %6.3f s CPU  %7.4f %% of a core per console\n' "bare (cat per tty)" "$bare_cpu" "$bare_pct"
printf '  %-30s %6.3f s CPU  %7.4f %% of a core per console\n' "farm capture (broker+transcripts)" "$farm_cpu" "$farm_pct"
printf '  ratio farm/bare: %.2f; consoles with lost or changed bytes: %d of %d\n' "$(echo "$farm_cpu / $bare_cpu" | bc -l)" "$bad" "$N"
num() { printf '%.6f' "$1"; }   # bc prints .5, which JSON does not allow
cat > artifacts/bench/consoles.json <<JSON
{"name": "console-cpu", "consoles": $N, "seconds": $SECS, "bytesPerSecond": $RATE,
 "bare": {"cpuSeconds": $(num "$bare_cpu"), "percentPerConsole": $(num "$bare_pct")},
 "farm": {"cpuSeconds": $(num "$farm_cpu"), "percentPerConsole": $(num "$farm_pct"), "consolesWithLoss": $bad},
 "ratio": $(num "$(echo "$farm_cpu / $bare_cpu" | bc -l)")}
JSON
[ $bad = 0 ]
