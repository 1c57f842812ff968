#!/bin/bash
# CUDA programs remoted through vgpu-stub (docs/benchmarks.md: CUDA
# remoting): the test programs of tests/cuda/, unchanged, run natively on
# NVIDIA's libcudart.so.13 and through the guest's libcudart.so.13 from a
# host-side client (libvgpu's host link, VGPU_DEVICE=unix:...) against a
# real vgpu-mediatord with pool A on GPU 0, so that no guest's TCG counts.
# Alternating, BENCH_CUDA_RUNS times (default 3); each program reports its
# own best of several and the median of the runs is kept:
#
#   empty-launches --time     10,000 launches, one synchronize: wall time
#   bandwidth --time 256 MiB  cudaMemcpy both ways, pinned (cudaMallocHost)
#   matmul-tiled --time 4096  copies in, the tiled kernel, copy out: wall time
#
# Goals (issue 14): launches within 1.5x native time, pinned copies at least
# 90% of native bandwidth, the matrix multiply at least 95% of native speed.
# Writes build/bench/cuda-remoting.json.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
. "$top/scripts/lib.sh"
runs=${BENCH_CUDA_RUNS:-3}
bin=$build/tests/cuda
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cuda_lib=${CUDA_HOME:-${nvcc%/bin/nvcc}}/lib64
ours=$build/guest-tools/cudart:$build/guest-tools

if [ ! -e /dev/nvidiactl ]; then
    echo "== CUDA remoting: not run, this machine has no NVIDIA driver (/dev/nvidiactl)"
    exit 0
fi
for f in "$bin/empty-launches" "$bin/bandwidth" "$bin/matmul-tiled" "$cuda_lib/libcudart.so.13" \
         "$build/guest-tools/cudart/libcudart.so.13"; do
    [ -e "$f" ] || { echo "cuda-remoting: no $f (make bench-build; CUDA_HOME)"; exit 1; }
done
echo "== CUDA remoting (docs/benchmarks.md: CUDA remoting)"
tmp=$(mktemp -d)
trap 'vgpu_mediator_stop TERM; rm -rf "$tmp"' EXIT
uuid=6f1c2a3b-0000-4d5e-8f90-0123456789ad
VGPU_MEDIATOR_LOG_LEVEL=warning vgpu_mediator_config "$tmp/mediator.conf" "$tmp/run" \
    "[pool A]
backend=cuda
gpus=0" "plugin-dir=$build/plugins"
if ! vgpu_mediator_start "$tmp/run" "$tmp/mediator.conf" "$tmp/daemon.log" ||
   ! "$build/vgpuctl" --runtime-dir "$tmp/run" register "$uuid" --pool A --priority high \
       --vm-id 1 --name cuda-bench >/dev/null; then
    echo "cuda-remoting: the mediator did not start:"; cat "$tmp/daemon.log"
    exit 1
fi

# measure WHERE KEY PROGRAM ARGS...: the program's KEY=value, run natively or remoted.
measure() {
    local where=$1 key=$2 out
    shift 2
    if [ "$where" = native ]; then
        out=$(CUDA_VISIBLE_DEVICES=0 LD_LIBRARY_PATH=$cuda_lib "$@" 2>&1)
    else
        # 1 GiB: the window's heap holds the 256 MiB pinned buffer, its staging 64 MiB
        out=$(LD_LIBRARY_PATH=$ours VGPU_DEVICE=unix:$tmp/run/mediator.sock VGPU_VM_UUID=$uuid \
              VGPU_WINDOW_SIZE=1G "$@" 2>&1)
    fi || { echo "cuda-remoting: $where $*: failed:" >&2; echo "$out" | tail -n 5 >&2; return 1; }
    echo "$out" | sed -n "s/.*$key=\([0-9.]*\).*/\1/p" | head -n 1
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# case NAME KEY PROGRAM ARGS...: runs alternating; prints "native remoted" medians.
bench_case() {
    local name=$1 key=$2 i n r
    shift 2
    : >"$tmp/$name.native"; : >"$tmp/$name.remoted"
    for ((i = 0; i < runs; i++)); do
        n=$(measure native "$key" "$@") && r=$(measure remoted "$key" "$@") || return 1
        echo "$n" >>"$tmp/$name.native"
        echo "$r" >>"$tmp/$name.remoted"
    done
    echo "$(median <"$tmp/$name.native") $(median <"$tmp/$name.remoted")"
}

status=0
launch=$(bench_case launches wall_us "$bin/empty-launches" --time 10000) || status=1
pinned=$(bench_case pinned "pinned host_to_device_GBps" "$bin/bandwidth" --time 268435456) || status=1
pinned_d2h=$(bench_case pinned-d2h "pinned host_to_device_GBps=[0-9.]* device_to_host_GBps" \
             "$bin/bandwidth" --time 268435456) || status=1
matmul=$(bench_case matmul wall_ms "$bin/matmul-tiled" --time 4096) || status=1
[ "$status" = 0 ] || { echo "the mediator's log:"; tail -n 20 "$tmp/daemon.log"; exit 1; }

python3 - "$build/bench/cuda-remoting.json" "$runs" "$launch" "$pinned" "$pinned_d2h" \
    "$matmul" <<'PY'
import json, os, sys
path, runs = sys.argv[1], int(sys.argv[2])
cases = [  # name, unit, native, remoted, ratio, goal, how the ratio reads
    ("10,000 empty launches + synchronize", "us"),
    ("pinned cudaMemcpy 256 MiB host to device", "GB/s"),
    ("pinned cudaMemcpy 256 MiB device to host", "GB/s"),
    ("matmul-tiled 4096 (copies, kernel, copy back)", "ms"),
]
vals = [tuple(map(float, a.split())) for a in sys.argv[3:7]]
rows = []
for (name, unit), (native, remoted) in zip(cases, vals):
    if unit == "GB/s":
        ratio, goal, sense = remoted / native, 0.90, ">="     # of native bandwidth
    elif unit == "ms":
        ratio, goal, sense = native / remoted, 0.95, ">="     # of native speed
    else:
        ratio, goal, sense = remoted / native, 1.5, "<="      # times native time
    met = ratio >= goal if sense == ">=" else ratio <= goal
    rows.append(dict(case=name, unit=unit, native=native, remoted=remoted, ratio=round(ratio, 3),
                     goal=f"{sense} {goal}", met=met))
    print(f"{name:48} native {native:10.2f} {unit:4}  remoted {remoted:10.2f} {unit:4}  "
          f"ratio {ratio:6.3f} (goal {sense} {goal}: {'met' if met else 'NOT met'})")
os.makedirs(os.path.dirname(path), exist_ok=True)
json.dump(dict(runs=runs, cases=rows), open(path, "w"), indent=1)
print(f"(median of {runs} alternating runs; {path})")
PY
