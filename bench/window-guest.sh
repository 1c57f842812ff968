#!/bin/bash
# The data window's operations from inside a booted guest (issue 13): one
# VM with a window of BENCH_WINDOW (default 256M) against a real mediator
# whose pool runs on GPU 0 where there is one (/dev/nvidiactl), else on a
# cpu lane.  In the guest, vgpu-client runs each operation BENCH_ROUNDS
# times (default 3) on arrays of BENCH_ARRAY bytes (default 64M; SGEMM
# BENCH_SGEMM^3, default 2048) and reports its own time around the request
# (doorbell to completion, as the guest sees it) and the backend's time.
# The rest, "guest share", is the guest, QEMU, the mediator and the socket.
#
#   bench/window-guest.sh [EXTRA QEMU ARGS...]    (e.g. -L DIR for the BIOS)
#
# Prints one line per run and exits non-zero when a run fails its check.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-window-guest.XXXXXX")
. "$top/scripts/guest-vms.sh"
trap 'gv_cleanup; rm -rf "$tmp"' EXIT

window=${BENCH_WINDOW:-256M}
array=${BENCH_ARRAY:-64M}
sgemm=${BENCH_SGEMM:-2048}
rounds=${BENCH_ROUNDS:-3}
if [ -e /dev/nvidiactl ]; then
    backend="backend=cuda
gpus=0"
    plugins="plugin-dir=$top/build/plugins"
    where="GPU 0 (cuda)"
else
    backend="backend=cpu"
    plugins=
    where="a cpu lane"
fi

gv_setup "$tmp" || exit 1
gv_mediator_config "[pool A]
$backend" ${plugins:+"$plugins"}
gv_mediator_start || { cat "$tmp/mediator.log"; exit 1; }
uuid=00000000-0000-4000-8000-0000000000b1
gv_vgpuctl register "$uuid" --pool A --priority high --vm-id 1 --name bench >/dev/null || exit 1
GV_DEVICE_PROPS="window-size=$window" gv_vm_start bench "$uuid" "$@"
gv_vm_wait_ready bench 180 || { gv_vm_console bench | tail -20; exit 1; }
echo "== data window from a ${gv_accel#-accel } guest: $window window, pool on $where"

status=0
for op in "vadd --type f32 --size $array" "saxpy --size $array" "sum --size $array" \
          "sgemm --m $sgemm --n $sgemm --k $sgemm"; do
    for round in $(seq "$rounds"); do
        out=$(gv_vm_run bench 600 "vgpu-client --json $op")
        rc=$?
        line=$(echo "$out" | grep '^{' | tail -n 1)
        if [ "$rc" != 0 ] || [ -z "$line" ]; then
            echo "$op (round $round): FAILED: $out"
            status=1
            continue
        fi
        echo "$line" | python3 -c '
import json, sys
j = json.load(sys.stdin)
t, e = j["time_us"], j["exec_time_us"]
rate = ("%.1f GFLOP/s" % j["gflop_per_s"]) if "gflop_per_s" in j else ("%.2f GB/s" % j["gb_per_s"])
print("%-8s round %s: guest %10.1f us, backend %10d us, guest share %9.1f us (%4.1f%%) %s" % (
    j["command"], sys.argv[1], t, e, t - e, 100.0 * (t - e) / t, rate))' "$round"
    done
done
exit $status
