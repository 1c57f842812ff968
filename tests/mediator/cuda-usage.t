#!/bin/bash
# A VM's GPU memory quota reaches the backend with each CUDA batch, and what
# the backend reports back (memory held and its total, kernels) and the
# batch's execution time show in vgpuctl stats (table and --json) and the
# metrics, per VM.  The test plugin plays the GPU (tests/mediator/test-backend.c):
# each batch leaves its VM holding half its quota (half of the unit's 1 MiB
# without one), counts each call as a kernel and takes 1 us.  A batch on a
# CPU pool (no GPU) and the other opcodes change none of it.  vgpuctl top
# shows the same, read off a terminal (tmux).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 15

command -v tmux >/dev/null || bail "tmux is not installed (scripts/install-deps.sh installs it)"
pools="[pool A]
backend=test
gpus=0
[pool B]
backend=cpu"
write_config "plugin-dir=$build/tests/plugins"
start_daemon || bail "daemon with the test plugin did not start"
u1=$(uuid_n 1); u2=$(uuid_n 2); u3=$(uuid_n 3); u4=$(uuid_n 4)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name quota8g --gpu-memory 8GiB >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 2 --name noquota >/dev/null
vgpuctl register "$u3" --pool A --priority medium --vm-id 3 --name adds --gpu-memory 512M >/dev/null
vgpuctl register "$u4" --pool B --priority low --vm-id 4 --name cpu --gpu-memory 1GiB >/dev/null

# batch UUID NAME: one CUDA batch of two calls (device count, malloc) from the VM.
batch() {
    "$build/tests/window-client" --socket "$dev_sock" --uuid "$1" --op cuda --a 65536 \
        > "$tmp/$2.out" 2>&1
    batch_status=$?
}
ran=0
for i in 1 2 3; do batch "$u1" quota8g-$i; ran=$((ran + batch_status)); done
batch "$u2" noquota; ran=$((ran + batch_status))
batch "$u4" cpu; ran=$((ran + batch_status))
is "$ran" 0 "five CUDA batches complete (every call answered: no device)"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u3" --submit 2 > "$tmp/adds.out"
is "$?" 0 "VM 3 runs two VECTOR_ADDs on the same plugin"

vgpuctl stats --json > "$tmp/stats.json"
cuda() { json "[(v['gpu_memory_quota'], v['gpu_memory_used_bytes'], v['gpu_memory_total_bytes'], v['cuda_kernels'], v['cuda_gpu_time_us']) for v in j['vms'] if v['vm_id']==$1][0]" < "$tmp/stats.json"; }
is "$(cuda 1)" "(8589934592, 4294967296, 8589934592, 6, 3)" \
    "VM 1: its 8 GiB quota reached the backend, which left it holding half; 2 kernels and 1 us per batch"
is "$(cuda 2)" "(0, 524288, 1048576, 2, 1)" \
    "VM 2 without a quota: the GPU's memory as its total"
is "$(cuda 3)" "(536870912, 0, 0, 0, 0)" "VM 3's adds are no CUDA work: only its quota shows"
is "$(cuda 4)" "(1073741824, 0, 0, 0, 0)" "VM 4's batch ran on a CPU pool: no GPU, no usage"
is "$(json "sorted(k for k in j['pools'][0] if 'gpu' in k or 'cuda' in k)" < "$tmp/stats.json")" "[]" \
    "pools have no CUDA members (a VM's own)"

table=$(vgpuctl stats)
like "$table" $'\n'"VM-ID +NAME +GPU-QUOTA +MEM-USED-MIB +MEM-TOTAL-MIB +KERNELS +GPU-TIME-US"$'\n' \
    "the table has a section of GPU memory and CUDA work"
like "$table" $'\n'"1 +quota8g +8GiB +4096.0 +8192.0 +6 +3"$'\n' "with VM 1's row"
like "$table" $'\n'"2 +noquota +- +0.5 +1.0 +2 +1"$'\n' "and VM 2's, without a quota"

metrics=$(vgpuctl metrics)
labels1="uuid=\"$u1\",name=\"quota8g\",vm_id=\"1\",pool=\"A\",priority=\"high\""
is "$(grep -F "{$labels1}" <<<"$metrics" | grep -E '^vgpu_vm_(gpu_memory|cuda)_' | sort)" \
"vgpu_vm_cuda_gpu_seconds_total{$labels1} 0.000003000
vgpu_vm_cuda_kernels_total{$labels1} 6
vgpu_vm_gpu_memory_quota_bytes{$labels1} 8589934592
vgpu_vm_gpu_memory_total_bytes{$labels1} 8589934592
vgpu_vm_gpu_memory_used_bytes{$labels1} 4294967296" \
    "metrics: VM 1's quota, memory used and total, kernels and GPU seconds"
is "$(grep -cE '^# TYPE vgpu_vm_(gpu_memory_(quota|used|total)_bytes gauge|cuda_(kernels|gpu_seconds)_total counter)$' <<<"$metrics")" 5 \
    "the five families with their types"
is "$(grep -E '^vgpu_vm_(gpu_memory|cuda)_[a-z_]+\{[^}]*vm_id="4"' <<<"$metrics" | awk '{ print $2 }' | tr '\n' ' ')" \
    "1073741824 0 0 0 0.000000000 " "metrics: VM 4 has its quota and nothing else"

tm() { tmux -S "$tmp/tmux.sock" "$@"; }
trap 'tm kill-server 2>/dev/null; cleanup' EXIT
tm new-session -d -x 160 -y 40 "env -i PATH=$PATH HOME=$tmp TERM=xterm LANG=C.UTF-8 bash --norc --noprofile"
tm send-keys "$build/vgpuctl --runtime-dir $run top --delay 1" Enter
vgpu_wait_until 10 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^ *1 quota8g  *8GiB '"
screen=$(tm capture-pane -p)
like "$screen" "VM-ID NAME +GPU-QUOTA +MEM-USED-MIB +MEM-TOTAL-MIB +GPU% +KERNELS/S +KERNELS +GPU-TIME-US" \
    "top has a table of the VMs' GPU memory and CUDA work"
is "$(awk '$1 == 1 && $2 == "quota8g" && $3 == "8GiB" { print $4, $5, $8, $9 }' <<<"$screen")" "4096.0 8192.0 6 3" \
    "with VM 1's memory used and total (MiB), kernels and GPU time as vgpuctl stats has them"
tm send-keys q
