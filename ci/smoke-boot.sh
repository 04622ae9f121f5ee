#!/usr/bin/env bash
# ci/smoke-boot.sh - boot ci/artifacts.sh output the way Farm does (serial on a
# unix socket, QMP, virtio-mmio management NIC with SSH hostfwd, 9p share),
# time boot-to-prompt and boot-to-ssh, run the SSH checks, stop QEMU.
#
# Usage:  ci/smoke-boot.sh xen|native [OUTDIR]   (default OUTDIR as artifacts.sh)
#
# Environment: PORT=10022 (host port forwarded to guest :22), WORK=/tmp/farm-smoke
#   (disk.img, throwaway ssh key, serial.log, qmp.sock), TIMEOUT=120,
#   DOMU=1 (xen mode: also "xl create" a domU from /mnt/artifacts and wait for
#   its "FARM: ready" on "xl console"), KEEP=1 (leave QEMU running).
# Exit 0 when the prompt appeared and every SSH check passed.
set -euo pipefail
MODE=${1:?usage: $0 xen|native [OUTDIR]}
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=$(cd "${2:-$REPO/.cache/artifacts/${SUITE:-bookworm}}" && pwd)
PORT=${PORT:-10022}
W=${WORK:-/tmp/farm-smoke}
TIMEOUT=${TIMEOUT:-120}
mkdir -p "$W"
rm -f "$W/serial.sock" "$W/qmp.sock" "$W/serial.log"
if [ ! -f "$W/disk.img" ]; then
    truncate -s 64M "$W/disk.img"
    printf 'FARM-NVME-DISK-0001' | dd of="$W/disk.img" conv=notrunc status=none
fi
[ -f "$W/key" ] || ssh-keygen -q -t ed25519 -N '' -f "$W/key"
KEY="ssh-ed25519:$(cut -d' ' -f2 "$W/key.pub")"

dev=(-drive "file=$W/disk.img,if=none,id=nv0,format=raw" -device nvme,drive=nv0,serial=farm0
     -netdev user,id=n0,restrict=on -device e1000e,netdev=n0,romfile=
     -netdev "user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:22" -device virtio-net-device,netdev=mgmt
     -fsdev "local,id=art,path=$OUT,security_model=none,readonly=on" -device virtio-9p-device,fsdev=art,mount_tag=artifacts
     -display none -monitor none -chardev "socket,id=ser0,path=$W/serial.sock,server=on,wait=on" -serial chardev:ser0
     -qmp "unix:$W/qmp.sock,server=on,wait=off")
case "$MODE" in
xen) args=(-machine virt,virtualization=on,gic-version=3 -cpu cortex-a57 -smp 2 -m 2048 -no-reboot
        -kernel "$OUT/xen" -append "console=dtuart dtuart=/pl011@9000000 dom0_mem=1024M dom0_max_vcpus=2 bootscrub=0 loglvl=all guest_loglvl=all"
        -device "guest-loader,addr=0x49000000,kernel=$OUT/vmlinuz,bootargs=console=hvc0 earlycon=xen rdinit=/init farm.sshkey=$KEY"
        -device "guest-loader,addr=0x50000000,initrd=$OUT/initrd.cpio.gz") ;;
native) args=(-machine virt,gic-version=3,iommu=smmuv3 -cpu cortex-a57 -smp 2 -m 2048 -no-reboot
        -kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.cpio.gz" -append "console=ttyAMA0 rdinit=/init farm.sshkey=$KEY") ;;
*) echo "usage: $0 xen|native [OUTDIR]" >&2; exit 2 ;;
esac
printf '%q ' qemu-system-aarch64 "${args[@]}" "${dev[@]}" > "$W/argv.$MODE"; echo >> "$W/argv.$MODE"
echo "[smoke] argv: $(cat "$W/argv.$MODE")"

now() { date +%s%N; }
t0=$(now)
qemu-system-aarch64 "${args[@]}" "${dev[@]}" > "$W/qemu.out" 2>&1 &
QPID=$!
SPID=
cleanup() {
    [ "${KEEP:-0}" = 1 ] && { echo "[smoke] QEMU left running: pid $QPID, ssh port $PORT"; return; }
    kill "$QPID" 2>/dev/null || true
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
}
trap cleanup EXIT
while [ ! -S "$W/serial.sock" ]; do
    kill -0 "$QPID" 2>/dev/null || { cat "$W/qemu.out" >&2; exit 1; }
    sleep 0.01
done
socat -u "UNIX-CONNECT:$W/serial.sock" - > "$W/serial.log" &
SPID=$!
SSH=(ssh -i "$W/key" -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
     -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes root@127.0.0.1)
ms() { echo $(( ($(now) - t0) / 1000000 )); }
tp= ts=
while [ -z "$tp" ] || [ -z "$ts" ]; do
    [ -z "$tp" ] && grep -qF 'root@farm:~# ' "$W/serial.log" && tp=$(ms)
    # poll ssh from the start (no waiting for FARM: ready)
    [ -z "$ts" ] && "${SSH[@]}" true 2>/dev/null && ts=$(ms)
    [ "$(ms)" -gt $((TIMEOUT * 1000)) ] && { echo "[smoke] TIMEOUT (prompt=${tp:-no} ssh=${ts:-no})"; exit 1; }
    kill -0 "$QPID" 2>/dev/null || { echo "[smoke] QEMU exited"; cat "$W/qemu.out"; exit 1; }
    sleep 0.05
done
tr -d '\r' < "$W/serial.log" | grep -E '^FARM: (ready|done)|^FARM-(NET|NVME):|^FARM: (mgmt|9p|ssh|xen)'
printf '[smoke] %s: prompt after %d.%03d s, first ssh after %d.%03d s\n' "$MODE" \
    $((tp / 1000)) $((tp % 1000)) $((ts / 1000)) $((ts % 1000))

fail=0
check() {
    local out rc
    out=$("${SSH[@]}" "$1" 2>&1) && rc=0 || rc=$?
    printf '[smoke] ssh %-28s rc=%d lines=%d\n' "'$1'" "$rc" "$(printf '%s\n' "$out" | wc -l)"
    [ "$rc" = 0 ] || { fail=1; printf '%s\n' "$out" | tail -5; }
}
cmds=('lspci -vvv' 'cat /proc/interrupts' 'cat /proc/iomem' 'dmesg' 'ls /proc/device-tree' 'ls /mnt/artifacts')
[ "$MODE" = xen ] && cmds=('xl info' 'xl list' 'xl dmesg' 'xl pci-assignable-list' "${cmds[@]}")
for c in "${cmds[@]}"; do check "$c"; done

if [ "$MODE" = xen ] && [ "${DOMU:-0}" = 1 ]; then
    "${SSH[@]}" 'cat > /tmp/domu.cfg <<EOF
name = "farm-domu"
kernel = "/mnt/artifacts/vmlinuz"
ramdisk = "/mnt/artifacts/initrd.cpio.gz"
memory = 256
vcpus = 1
extra = "console=hvc0 rdinit=/init"
EOF
xl create /tmp/domu.cfg && i=0 && while [ $i -lt 60 ]; do
    timeout 2 xl console farm-domu </dev/null >>/tmp/domu.log 2>&1
    grep -aq "FARM: ready" /tmp/domu.log && break; i=$((i + 1)); done
grep -aE "^FARM: (init|hypervisor|xen|ready)" /tmp/domu.log; xl list; xl destroy farm-domu' 2>&1 |
        sed 's/^/[smoke] domU: /'
fi
[ "$fail" = 0 ] && echo "[smoke] OK" || echo "[smoke] FAILED"
exit "$fail"
