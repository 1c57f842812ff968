#!/bin/bash
# The real cuda plugin on a host without an NVIDIA driver (CI): a pool that
# asks for it stops the daemon's start with one line naming the config file,
# the pool and CUDA's reason; with fallback=cpu the daemon logs the fallback
# and serves the pool on the CPU.  (On a GPU host the pool runs on the GPU.)
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6

[ -f "$build/plugins/libvgpu-backend-cuda.so" ] || bail "the cuda plugin was not built (nvcc missing?)"
has_gpu=0
[ -e /dev/nvidiactl ] && has_gpu=1

pools="[pool A]
backend=cuda
gpus=0"
write_config "plugin-dir=$build/plugins"
if [ "$has_gpu" = 0 ]; then
    timeout 20 "$build/vgpu-mediatord" --config "$conf" --foreground 2>"$tmp/nogpu.log"
    status=$?
    is "$status" 1 "without a GPU, a cuda pool without fallback stops the start"
    like "$(cat "$tmp/nogpu.log")" \
        "$conf:[0-9]+: \[pool A\] backend: backend \"cuda\" cannot run here: no usable CUDA driver or GPU: .*\(set fallback=cpu" \
        "the error names the file, line, pool and CUDA's reason"
else
    start_daemon
    ok $? "with a GPU, the cuda pool starts"
    stop_daemon
    is "$daemon_status" 0 "and stops cleanly"
fi

pools="[pool A]
backend=cuda
gpus=0
fallback=cpu
workers=1"
write_config "plugin-dir=$build/plugins"
: > "$tmp/daemon.log"
start_daemon || bail "the daemon with fallback=cpu did not start"
want_backend=cpu
[ "$has_gpu" = 1 ] && want_backend=cuda
is "$(vgpuctl stats --json | json "j['pools'][0]['backend']")" "$want_backend" \
    "pool A runs on $want_backend"
if [ "$has_gpu" = 0 ]; then
    like "$(cat "$tmp/daemon.log")" "pool A: backend \"cuda\" cannot run here: .*using fallback=cpu" \
        "the fallback is logged with its reason"
else
    ok 0 "no fallback needed on a GPU host"
fi
vgpuctl register "$(uuid_n 1)" --pool A --priority high --vm-id 1 --name vm1 >/dev/null
fake vm1 --uuid "$(uuid_n 1)" --submit 3 --base 4294967290
wait_pid 20 "$pid_vm1"
is "$wait_status" 0 "requests to the pool complete"
is "$(sed -nE 's/.*error=(\w+) status=\w+ result=([0-9]+).*/\1 \2/p' "$tmp/vm1.out" | tr '\n' ' ')" \
    "OK 4294967292 OK 4294967294 OK 0 " "with the right sums (the last wraps)"
