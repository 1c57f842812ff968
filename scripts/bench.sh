#!/bin/bash
# make bench: benchmarks, each reported as a ratio to a floor measured in
# the same run on the same machine (see docs/benchmarks.md).
#   BENCH_ITERATIONS=N   round trips per measurement (default 20000)
#   BENCH_GUEST=0        leave out the booted guest (it needs make qemu and
#                        make guest-image-client, which make bench builds)
#   BENCH_SCALE=0        leave out bench/scale.sh (many devices, priority
#                        isolation, the old design; its own variables are
#                        listed there)
#   VGPU_BUILD=DIR       the build tree to run (default build/), e.g. one
#                        carried to a GPU host
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=${VGPU_BUILD:-$top/build}
. "$top/scripts/lib.sh"
iterations=${BENCH_ITERATIONS:-20000}
status=0

machine() {
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
         "$(nproc) CPU(s), $(uname -r)"
    if [ -e /dev/nvidiactl ] && command -v nvidia-smi >/dev/null; then
        echo "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
    fi
}

# mediator_round_trip LABEL POOL-LINES [MEDIATOR-LINES...]: start a real
# vgpu-mediatord with pool A as given, register one VM, and run the latency
# benchmark (AF_UNIX ping-pong floor, then one VECTOR_ADD at a time through
# the daemon, alternating).  Its report goes to stdout.
mediator_round_trip() {
    local label=$1 pool=$2 tmp uuid=6f1c2a3b-0000-4d5e-8f90-0123456789ab rc=1
    shift 2
    tmp=$(mktemp -d)
    VGPU_MEDIATOR_LOG_LEVEL=warning vgpu_mediator_config "$tmp/mediator.conf" "$tmp/run" \
        "[pool A]
$pool" "$@"
    if vgpu_mediator_start "$tmp/run" "$tmp/mediator.conf" "$tmp/daemon.log" &&
       "$build/vgpuctl" --runtime-dir "$tmp/run" register "$uuid" --pool A \
           --priority high --vm-id 1 --name bench >/dev/null; then
        "$build/tests/mediator-latency-bench" --socket "$tmp/run/mediator.sock" \
            --uuid "$uuid" --iterations "$iterations" --backend "$label"
        rc=$?
    else
        echo "bench: the mediator did not start:"; cat "$tmp/daemon.log"
    fi
    vgpu_mediator_stop TERM
    rm -rf "$tmp"
    return $rc
}

# The mediator on the cpu backend (service time 0) against the socket floor.
bench_mediator() {
    echo "== mediator round trip (docs/benchmarks.md: Mediator round trip)"
    mediator_round_trip "cpu backend, 0 us" "backend=cpu
workers=1
service-time-us=0"
}

# On a GPU host: the raw CUDA floor (the backend's own launch + synchronize),
# then the mediator with pool A on GPU 0, reported against the floor of one
# request through it: CUDA floor + one socket round trip.
bench_cuda() {
    local floor report cuda50 sock50 med50
    echo "== GPU round trip (docs/benchmarks.md: GPU round trip)"
    floor=$("$build/bench/cuda-floor" -n "$iterations") || { echo "$floor"; return 1; }
    echo "$floor"
    report=$(mediator_round_trip "cuda backend, GPU 0" "backend=cuda
gpus=0" "plugin-dir=$build/plugins") || { echo "$report"; return 1; }
    echo "$report"
    cuda50=$(echo "$floor" | sed -nE 's/.* p50_us=([0-9.]+).*/\1/p')
    sock50=$(echo "$report" | sed -nE 's/^floor .* p50 *([0-9.]+) us.*/\1/p')
    med50=$(echo "$report" | sed -nE 's/^mediator .* p50 *([0-9.]+) us.*/\1/p')
    awk -v c="$cuda50" -v s="$sock50" -v m="$med50" 'BEGIN {
        printf "goal     mediator p50 / (CUDA floor p50 + socket p50) = %.1f / (%.1f + %.1f) = %.2fx (goal <= 1.30x)\n",
               m, c, s, m / (c + s) }'
}

# p50/p99 value of a report line starting with WORD ("floor", "mediator").
report_value() {    # report word p50|p99
    echo "$1" | sed -nE "s/^$2 .* $3 *([0-9.]+) us.*/\1/p" | head -n 1
}

# A booted guest (scripts/guest-vms.sh; KVM where it works, else TCG) runs
# vgpu-client bench against a mediator on the cpu backend (one lane,
# service time 0), polling and then waiting on the interrupt through
# uio_pci_generic.  Reported against the mediator round trip and the
# socket floor measured above in the same run ($1: that report).
bench_guest() {
    local host=$1 dir med50 med99 sock50 g50 g99 rc=0
    local uuid=6f1c2a3b-0000-4d5e-8f90-0123456789ab warmup=2000
    echo "== guest round trip (docs/benchmarks.md: Guest round trip)"
    dir=$(mktemp -d)
    (
        . "$top/scripts/guest-vms.sh"
        trap 'gv_cleanup; rm -rf "$dir"' EXIT
        gv_setup "$dir" || exit 1
        gv_mediator_config "[pool A]
backend=cpu
workers=1
service-time-us=0" "log-level=warning"
        gv_mediator_start || exit 1
        gv_vgpuctl register "$uuid" --pool A --priority high --vm-id 1 --name bench >/dev/null || exit 1
        gv_vm_start bench "$uuid"
        gv_vm_wait_ready bench || exit 1
        echo "guest: $gv_accel, 1 vCPU, $(sed -n 's/^kernel //p' "$GV_IMAGE/key")"
        # unmeasured first: TCG translates the client's code on first use
        gv_vm_run bench 300 "vgpu-client bench -n $warmup" >/dev/null || exit 1
        gv_vm_run bench 600 "vgpu-client --json --wait poll bench -n $iterations" |
            grep '^{' | tail -n 1 >"$dir/poll.json"
        gv_vm_run bench 60 "$(gv_bind_uio_command)" >/dev/null || exit 1
        gv_vm_run bench 300 "vgpu-client bench --wait irq -n $warmup" >/dev/null || exit 1
        gv_vm_run bench 600 "vgpu-client --json --wait irq bench -n $iterations" |
            grep '^{' | tail -n 1 >"$dir/irq.json"
        for mode in poll irq; do
            sed -E 's/.*"count":([0-9]+).*"p50_us":([0-9.]+).*"p99_us":([0-9.]+).*/\1 \2 \3/' "$dir/$mode.json" |
                awk -v m="$mode" '{ printf "guest    vgpu-client bench, wait %-4s %6d:  p50 %7.1f us  p99 %7.1f us\n", m, $1, $2, $3 }'
        done
    ) >"$dir.report" 2>&1 || rc=1
    cat "$dir.report"
    [ "$rc" = 0 ] || { rm -f "$dir.report"; return 1; }
    med50=$(report_value "$host" mediator p50)
    med99=$(report_value "$host" mediator p99)
    sock50=$(report_value "$host" floor p50)
    for mode in poll irq; do
        g50=$(report_value "$(cat "$dir.report")" "guest .* wait $mode" p50)
        g99=$(report_value "$(cat "$dir.report")" "guest .* wait $mode" p99)
        awk -v m="$mode" -v g50="$g50" -v g99="$g99" -v m50="$med50" -v m99="$med99" -v s50="$sock50" 'BEGIN {
            printf "ratio    guest %-4s / mediator round trip:     p50 %7.2fx    p99 %7.2fx   (p50 / socket floor %.1fx)\n",
                   m, g50 / m50, g99 / m99, g50 / s50 }'
    done
    rm -f "$dir.report"
}

machine
host_report=$(bench_mediator) || status=1
echo "$host_report"
if [ "${BENCH_GUEST:-1}" != 0 ]; then
    bench_guest "$host_report" || status=1
fi
if [ -e /dev/nvidiactl ]; then
    bench_cuda || status=1
else
    echo "== GPU round trip: not run, this machine has no NVIDIA driver (/dev/nvidiactl)"
fi
if [ "${BENCH_SCALE:-1}" != 0 ]; then
    VGPU_BUILD=$build "$top/bench/scale.sh" || status=1
fi
exit $status
