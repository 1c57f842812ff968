#!/bin/bash
# Scale, priority isolation and the old design (docs/benchmarks.md: Many
# devices), run by `make bench` after scripts/bench.sh's round trips:
#   1. for each device count, a fresh vgpu-mediatord with pool A on one unit
#      (a cpu lane, or GPU 0 where there is an NVIDIA driver), that many VMs
#      registered, and vgpu-loadgen as their devices, one VECTOR_ADD in
#      flight each; then the devices' counts against `vgpuctl stats`.  The
#      counts take turns, in rounds, so that other load hits them alike;
#   2. the same with 64 VMs that each have a 1 MiB data window (what the
#      window adds to the mediator's memory);
#   3. one high-priority VM at a fixed rate, alone and beside low VMs whose
#      requests take about BENCH_LOW_OP_US each (BENCH_ISOLATION_WORK below);
#   4. the old file transport's model, against the 1-device figure;
#   5. a busy unit kept busy: BENCH_DEPTH_DEVICES devices saturating the
#      unit with in-flight=1 (one request at a time, as before) and with
#      each of BENCH_DEPTH_LIST, taking turns in rounds: requests/s and the
#      unit's busy time (vgpuctl stats);
# then bench/scale-report.py prints the table and the goals, and gnuplot
# (when installed) draws the PNGs.  JSON and PNGs go to BENCH_OUT.
#
#   VGPU_BUILD=DIR             the build tree (default build/): vgpu-mediatord,
#                              vgpuctl, bench/vgpu-loadgen, bench/old-transport
#   VGPU_MEDIATORD=PATH        another vgpu-mediatord than VGPU_BUILD's
#   BENCH_OUT=DIR              where results go (default VGPU_BUILD/bench)
#   BENCH_BACKEND=cpu|cuda     default: cuda where /dev/nvidiactl is, else cpu
#   BENCH_SCALE_DEVICES="1 8 64 256"   BENCH_SCALE_ROUNDS=3
#   BENCH_SCALE_SECONDS=10 (measured, per count and round)   BENCH_SCALE_WARMUP=2
#   BENCH_CLIENT_THREADS (default: a quarter of the CPUs, at least 1)
#   BENCH_ISOLATION_LOW=4  BENCH_ISOLATION_RATE=200  BENCH_ISOLATION_BLOCKS=4
#   BENCH_ISOLATION_BLOCK_SECONDS=5  BENCH_LOW_OP_US=2000
#   BENCH_ISOLATION_WORK=service|window (default: window on cuda, service on cpu)
#   BENCH_OLD_REQUESTS=20
#   BENCH_DEPTH_DEVICES=64  BENCH_DEPTH_LIST="1 4 8"  (rounds, seconds: as scale)
#   BENCH_PARTS="scale window isolation old depth"   which of the five to run
#   BENCH_POOL_LINES="key=value..."   more lines for pool A in the scale and
#   window parts (e.g. to compare a setting of the unit)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
build=$VGPU_BUILD
out=${BENCH_OUT:-$build/bench}
loadgen=$build/bench/vgpu-loadgen
if [ -e /dev/nvidiactl ]; then backend=${BENCH_BACKEND:-cuda}; else backend=${BENCH_BACKEND:-cpu}; fi
devices_list=${BENCH_SCALE_DEVICES:-1 8 64 256}
rounds=${BENCH_SCALE_ROUNDS:-3}
seconds=${BENCH_SCALE_SECONDS:-10}
warmup=${BENCH_SCALE_WARMUP:-2}
threads=${BENCH_CLIENT_THREADS:+--threads $BENCH_CLIENT_THREADS}
parts=" ${BENCH_PARTS:-scale window isolation old depth} "
status=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-scale.XXXXXX")
run="$tmp/run"
trap 'vgpu_mediator_stop KILL; rm -rf "$tmp"' EXIT
mkdir -p "$out"
rm -f "$out"/scale-*.json "$out"/window-memory.json "$out"/isolation.json "$out"/old-design.json \
    "$out"/depth-*.json

# vgpu_mediator_start runs its wrapper argument with the daemon's command line.
with_mediatord() { shift; exec "$VGPU_MEDIATORD" "$@"; }

# start_mediator [POOL-LINE...]: a fresh daemon with pool A on one unit of the backend.
start_mediator() {
    local pool plugins=
    if [ "$backend" = cuda ]; then
        pool="backend=cuda
gpus=0"
        plugins="plugin-dir=$build/plugins"
    else
        pool="backend=cpu
workers=1"
    fi
    rm -rf "$run"
    VGPU_MEDIATOR_LOG_LEVEL=warning vgpu_mediator_config "$tmp/mediator.conf" "$run" \
        "$(printf '%s\n' "[pool A]" "$pool" "$@")" ${plugins:+"$plugins"}
    vgpu_mediator_start "$run" "$tmp/mediator.conf" "$tmp/daemon.log" \
        ${VGPU_MEDIATORD:+with_mediatord} && return 0
    cat "$tmp/daemon.log"
    return 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$vgpu_mediator_pid/status"; }

# register_vms FIRST COUNT PRIORITY: the VMs vgpu-loadgen plays, in pool A.
register_vms() { python3 "$top/bench/register-vms.py" "$run/control.sock" "$@"; }

# account RESULT: the devices' counts in RESULT against vgpuctl stats (added to RESULT).
account() {
    "$build/vgpuctl" --runtime-dir "$run" stats --json >"$tmp/stats.json" &&
        python3 "$top/bench/scale-report.py" account "$1" "$tmp/stats.json"
}

# scale_point N [LOADGEN ARGS...]: N VMs, one request in flight each.
scale_point() {
    local n=$1 json=$2 rss0; shift 2
    start_mediator ${BENCH_POOL_LINES:+"$BENCH_POOL_LINES"} || return 1
    rss0=$(rss_kib)
    register_vms 1 "$n" low &&
        "$loadgen" scale --socket "$run/mediator.sock" --devices "$n" $threads \
            --mediator-pid "$vgpu_mediator_pid" --rss-base-kib "$rss0" --json "$json" "$@" &&
        account "$json"
    local rc=$?
    vgpu_mediator_stop TERM
    return $rc
}

part() { [[ "$parts" == *" $1 "* ]]; }

if part scale; then
    echo "== many devices (docs/benchmarks.md: Many devices): $backend backend, one unit"
    for round in $(seq "$rounds"); do
        for n in $devices_list; do
            scale_point "$n" "$out/scale-$n-$round.json" --seconds "$seconds" --warmup "$warmup" ||
                status=1
        done
    done
fi
if part window; then
    echo "== what a data window adds: 64 VMs with a 1 MiB window, 20 ADD_F32 over it each"
    scale_point 64 "$out/window-memory.json" --op add_f32 --count 65536 --requests 20 || status=1
fi

# The low VMs' work: "service", VECTOR_ADD on a pool whose unit takes
# BENCH_LOW_OP_US per request (a cpu lane sleeps: the unit is busy and the
# CPUs free, as with a busy GPU), or "window", ADD_F32 sized to take that
# long (on a cpu lane it burns a CPU the mediator and the clients need).
if part isolation; then
    work=${BENCH_ISOLATION_WORK:-$([ "$backend" = cuda ] && echo window || echo service)}
    low=${BENCH_ISOLATION_LOW:-4}
    op_us=${BENCH_LOW_OP_US:-2000}
    echo "== priority isolation: the low VMs' work: $work"
    if [ "$work" = service ]; then
        service=("service-time-us=$op_us")
        low_args=(--low-op vector_add)
    else
        service=()
        low_args=(--low-op add_f32 --low-op-us "$op_us"
                  --window-mib "$([ "$backend" = cuda ] && echo 256 || echo 64)")
    fi
    if start_mediator "${service[@]}" && register_vms 1 1 high && register_vms 2 "$low" low; then
        "$loadgen" isolation --socket "$run/mediator.sock" --high 1 --low-first 2 --low "$low" \
            --rate "${BENCH_ISOLATION_RATE:-200}" --blocks "${BENCH_ISOLATION_BLOCKS:-4}" \
            --block-seconds "${BENCH_ISOLATION_BLOCK_SECONDS:-5}" "${low_args[@]}" \
            --json "$out/isolation.json" && account "$out/isolation.json" || status=1
    else
        status=1
    fi
    vgpu_mediator_stop TERM
fi

if part old; then
    echo "== the old design: files in a directory (a local one), host scan 1 s, guest poll 100 ms"
    "$build/bench/old-transport" --requests "${BENCH_OLD_REQUESTS:-20}" --json "$out/old-design.json" ||
        status=1
fi

if part depth && [ "$backend" = cpu ]; then
    echo "== a busy unit kept busy: not measured: a cpu lane runs one request at a time"
elif part depth; then
    depth_devices=${BENCH_DEPTH_DEVICES:-64}
    echo "== a busy unit kept busy: $depth_devices devices, in-flight= ${BENCH_DEPTH_LIST:-1 4 8}"
    for round in $(seq "$rounds"); do
        for depth in ${BENCH_DEPTH_LIST:-1 4 8}; do
            BENCH_POOL_LINES="in-flight=$depth" scale_point "$depth_devices" \
                "$out/depth-$depth-$round.json" --seconds "$seconds" --warmup "$warmup" || status=1
        done
    done
fi

python3 "$top/bench/scale-report.py" report "$out" "$backend" || status=1
if ! command -v gnuplot >/dev/null; then
    echo "plots: not drawn, no gnuplot here (bench/plots.gp draws them from $out elsewhere)"
elif [ -e "$out/scale.dat" ] && [ -e "$out/isolation.dat" ]; then
    gnuplot -e "dir='$out'" "$top/bench/plots.gp" || status=1
    echo "plots: $out/scale-latency.png $out/scale-throughput.png $out/isolation.png"
fi
exit $status
