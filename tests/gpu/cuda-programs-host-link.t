#!/bin/bash
# On a GPU host: the CUDA test programs of tests/cuda/, unchanged, run on
# the guest's libcudart.so.13 from a host-side client (libvgpu's host link,
# VGPU_DEVICE=unix:...) against the real mediator whose pool runs on GPU 0,
# and print exactly what they print natively on NVIDIA's runtime (run here
# first).  The same path as in a VM, without a guest: the fast check of the
# per-VM CUDA workers with real programs.  Two "VMs" run the set at once.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../mediator/lib.sh"
. "$(dirname "$0")/lib.sh"

plan 6

ours=$top/build/guest-tools/cudart:$top/build/guest-tools
SPECS=$("$runner" list | grep -v '^quota$')
mapfile -t spec_list <<< "$SPECS"

LD_LIBRARY_PATH=$cuda_lib CUDA_VISIBLE_DEVICES=0 "$runner" run -b "$bin" "$tmp/native" \
    "${spec_list[@]}" >"$tmp/native.tap"
is $? 0 "the programs pass natively" || { cat "$tmp/native.tap"; bail "no native run"; }

pools="[pool A]
backend=cpu" VGPU_TEST_BACKEND=cuda write_config
start_daemon || bail "the mediator did not start"
a=00000000-0000-4000-8000-000000000031
b=00000000-0000-4000-8000-000000000032
vgpuctl register "$a" --pool A --priority high --vm-id 31 --name link-a --gpu-memory 4GiB \
    >/dev/null || bail "register failed"
vgpuctl register "$b" --pool A --priority low --vm-id 32 --name link-b --gpu-memory 4GiB \
    >/dev/null || bail "register failed"

remoted() {     # UUID OUTDIR
    LD_LIBRARY_PATH=$ours VGPU_DEVICE=unix:$dev_sock VGPU_VM_UUID=$1 \
        VGPU_WINDOW_SIZE=256M "$runner" run -b "$bin" "$2" "${spec_list[@]}" >"$2.tap"
}
remoted "$a" "$tmp/a" &
a_pid=$!
remoted "$b" "$tmp/b"
wait "$a_pid"
for x in a b; do
    "$runner" compare "$tmp/native" "$tmp/$x" >"$tmp/$x.compare"
    ok $? "client $x's programs print what they print natively" ||
        diag "$(cat "$tmp/$x.compare" "$tmp/$x.tap")"
done
like "$(LD_LIBRARY_PATH=$ours ldd "$bin/vector-add" | grep libcudart)" \
    "=> $top/build/guest-tools/cudart/libcudart.so.13 " "the clients load our libcudart.so.13"
is "$(vgpuctl stats --json | python3 -c 'import json, sys
print(sorted((v["vm_id"], v["completed"] > 8 and v["cuda_kernels"] > 10000)
             for v in json.load(sys.stdin)["vms"]))')" "[(31, True), (32, True)]" \
    "their calls went through the mediator: both VMs have batches and kernels in its stats"
LD_LIBRARY_PATH=$ours VGPU_DEVICE=unix:$dev_sock VGPU_VM_UUID=$a \
    "$runner" run -b "$bin" "$tmp/quota" "quota=quota 4294967296" >/dev/null
is "$(cat "$tmp/quota/quota.status") $(tail -n 1 "$tmp/quota/quota.out")" "0 PASS quota" \
    "the quota program sees 4 GiB, its client's quota, and allocations stop there"
