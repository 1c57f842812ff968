#!/bin/bash
# A CUDA program in a VM whose pool has no GPU.  tests/cuda/vector-add,
# built on this host with `nvcc -cudart shared`, runs in a booted guest on
# the guest's libcudart.so.13 (guest-tools/cudart/) against the real
# mediator's cpu backend.  It must fail loudly, never pass: its first call,
# cudaGetDeviceCount, gets cudaErrorNoDevice from the host, the library
# says why on stderr, the program names the call and the error and exits
# 1.  The mediator answered exactly one request (the batch of that call).
# Without the library on the loader's path the program does not start.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 7

PROGRAM=$top/build/tests/cuda/vector-add
GUEST_DIR=/opt/vgpu-cuda               # where the guest gets the program and the libraries

e2e_cuda_layer "$tmp/cuda-layer" "$GUEST_DIR" "$PROGRAM" || bail "cannot build the layer"
cat "$tmp/cuda-layer.cpio.gz" >>"$tmp/initramfs.cpio.gz"

gv_mediator_config "[pool A]
backend=cpu"
gv_mediator_start || bail "the mediator did not start"
uuid=$(uuid_n 1)
vgpuctl register "$uuid" --pool A --priority high --vm-id 11 --name e2e-cuda >/dev/null ||
    bail "register failed"

gv_vm_start guest "$uuid"
gv_vm_wait_ready guest
ok $? "the VM boots and its agent takes commands" || bail "no VM"

out=$(gv_vm_run guest 120 "LD_LIBRARY_PATH=$GUEST_DIR/lib $GUEST_DIR/bin/vector-add 4096")
status=$?
is "$status" 1 "vector-add on a pool without a GPU exits 1"
like "$out" "libcudart \(vgpu-stub\): cudaGetDeviceCount: no CUDA device: the host answered cudaErrorNoDevice \(this VM's pool has no GPU\)" \
    "the library says on stderr that the host has no CUDA device"
like "$out" "vector-add: cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected" \
    "the program names the call and the error"

is "$(vgpuctl stats --json | json "[(v['submitted'], v['completed'], v['errors']) for v in j['vms']]")" \
    "[(1, 1, {})]" "the mediator answered one request: the batch with that call"

out=$(gv_vm_run guest 60 "$GUEST_DIR/bin/vector-add 4096")
like "$out" "error while loading shared libraries: libcudart.so.13" \
    "without LD_LIBRARY_PATH the loader finds no libcudart.so.13 and the program does not start"

gv_vm_stop guest
is $? 0 "the VM powers off cleanly when its agent ends"
