#!/bin/bash
# make bench: benchmarks, each reported as a ratio to a floor measured in
# the same run on the same machine (see docs/benchmarks.md).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
status=0

machine() {
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
         "$(nproc) CPU(s), $(uname -r)"
}

# The mediator: raw AF_UNIX ping-pong floor, then one VECTOR_ADD at a time
# through a real vgpu-mediatord on the cpu backend with service time 0.
bench_mediator() {
    local tmp pid uuid=6f1c2a3b-0000-4d5e-8f90-0123456789ab rc
    tmp=$(mktemp -d)
    cat > "$tmp/mediator.conf" <<CONF
[mediator]
runtime-dir=$tmp/run
log-level=warning
[pool A]
backend=cpu
workers=1
service-time-us=0
CONF
    "$build/vgpu-mediatord" --config "$tmp/mediator.conf" --foreground 2>"$tmp/daemon.log" &
    pid=$!
    for _ in $(seq 100); do
        "$build/vgpuctl" --runtime-dir "$tmp/run" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    echo "== mediator round trip (docs/benchmarks.md: Mediator round trip)"
    if "$build/vgpuctl" --runtime-dir "$tmp/run" register "$uuid" --pool A \
           --priority high --vm-id 1 --name bench >/dev/null; then
        "$build/tests/mediator-latency-bench" --socket "$tmp/run/mediator.sock" \
            --uuid "$uuid" --iterations "${BENCH_ITERATIONS:-20000}"
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

machine
bench_mediator || status=1
exit $status
