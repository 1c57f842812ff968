#!/bin/bash
# make bench: benchmarks, each reported as a ratio to a floor measured in
# the same run on the same machine (see docs/benchmarks.md).
#   BENCH_ITERATIONS=N   round trips per measurement (default 20000)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
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
    local label=$1 pool=$2 tmp pid uuid=6f1c2a3b-0000-4d5e-8f90-0123456789ab rc
    shift 2
    tmp=$(mktemp -d)
    { echo "[mediator]"; echo "runtime-dir=$tmp/run"; echo "log-level=warning"
      printf '%s\n' "$@"; echo "[pool A]"; printf '%s\n' "$pool"; } > "$tmp/mediator.conf"
    "$build/vgpu-mediatord" --config "$tmp/mediator.conf" --foreground 2>"$tmp/daemon.log" &
    pid=$!
    for _ in $(seq 100); do
        "$build/vgpuctl" --runtime-dir "$tmp/run" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    if "$build/vgpuctl" --runtime-dir "$tmp/run" register "$uuid" --pool A \
           --priority high --vm-id 1 --name bench >/dev/null; then
        "$build/tests/mediator-latency-bench" --socket "$tmp/run/mediator.sock" \
            --uuid "$uuid" --iterations "$iterations" --backend "$label"
        rc=$?
    else
        echo "bench: the mediator did not start:"; cat "$tmp/daemon.log"
        rc=1
    fi
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
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

machine
bench_mediator || status=1
if [ -e /dev/nvidiactl ]; then
    bench_cuda || status=1
else
    echo "== GPU round trip: not run, this machine has no NVIDIA driver (/dev/nvidiactl)"
fi
exit $status
