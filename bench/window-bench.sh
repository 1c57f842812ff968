#!/bin/bash
# The data window on the GPU (docs/benchmarks.md: Data window on the GPU):
# a real vgpu-mediatord with pool A on GPU 0, one VM registered, and
# build/bench/window-bench driving it from the host with a window of its
# own: 64 MiB f32 ADD against cudaMemcpy + kernel, SGEMM 8192^3 against
# cuBLAS called directly.  Run by `make bench` on a host with an NVIDIA
# driver; WINDOW_BENCH_ADD_N and WINDOW_BENCH_SGEMM_N set the repetitions.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
. "$top/scripts/lib.sh"

if [ ! -e /dev/nvidiactl ]; then
    echo "== data window on the GPU: not run, this machine has no NVIDIA driver (/dev/nvidiactl)"
    exit 0
fi
echo "== data window on the GPU (docs/benchmarks.md: Data window on the GPU)"
tmp=$(mktemp -d)
uuid=6f1c2a3b-0000-4d5e-8f90-0123456789ac
status=1
VGPU_MEDIATOR_LOG_LEVEL=warning vgpu_mediator_config "$tmp/mediator.conf" "$tmp/run" \
    "[pool A]
backend=cuda
gpus=0" "plugin-dir=$build/plugins"
if vgpu_mediator_start "$tmp/run" "$tmp/mediator.conf" "$tmp/daemon.log" &&
   "$build/vgpuctl" --runtime-dir "$tmp/run" register "$uuid" --pool A \
       --priority high --vm-id 1 --name window-bench >/dev/null; then
    "$build/bench/window-bench" add --socket "$tmp/run/mediator.sock" --uuid "$uuid" \
        -n "${WINDOW_BENCH_ADD_N:-20}" &&
    "$build/bench/window-bench" sgemm --socket "$tmp/run/mediator.sock" --uuid "$uuid" \
        -n "${WINDOW_BENCH_SGEMM_N:-5}" && status=0
    [ "$status" = 0 ] || { echo "the mediator's log:"; tail -n 20 "$tmp/daemon.log"; }
else
    echo "window-bench: the mediator did not start:"; cat "$tmp/daemon.log"
fi
vgpu_mediator_stop TERM
rm -rf "$tmp"
exit $status
