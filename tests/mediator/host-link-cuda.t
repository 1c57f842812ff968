#!/bin/bash
# A CUDA program on the host through libvgpu's host link: tests/cuda/vector-add
# (built here by `nvcc -cudart shared`) loads the project's libcudart.so.13,
# which reaches the real mediator over VGPU_DEVICE=unix:SOCKET as a guest's
# does through the device.  On a pool of the cpu backend it must fail
# loudly, as in a VM (tests/e2e/cuda-no-device.t): cudaGetDeviceCount gets
# cudaErrorNoDevice from the host, the library says why, the program exits
# 1, and the mediator answered exactly one request.  An unregistered VM is
# no CUDA device, and the library says why.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6

PROGRAM=$build/tests/cuda/vector-add
CUDART_DIR=$build/guest-tools/cudart
for f in "$PROGRAM" "$CUDART_DIR/libcudart.so.13" "$build/guest-tools/libvgpu.so.0"; do
    [ -e "$f" ] || bail "no $f (make $f)"
done

write_config
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
vgpuctl register "$u1" --pool A --priority high --vm-id 11 --name host-cuda >/dev/null

# cuda UUID: vector-add on our libcudart.so.13 through the host link.
cuda() {
    LD_LIBRARY_PATH=$CUDART_DIR:$build/guest-tools VGPU_DEVICE="unix:$dev_sock" \
        VGPU_VM_UUID=$1 "$PROGRAM" 4096
}

out=$(cuda "$u1" 2>&1)
status=$?
is "$status" 1 "vector-add on a pool without a GPU exits 1"
like "$out" "libcudart \(vgpu-stub\): cudaGetDeviceCount: no CUDA device: the host answered cudaErrorNoDevice \(this VM's pool has no GPU\)" \
    "the library (ours, not NVIDIA's) says the host has no CUDA device"
like "$out" "vector-add: cudaGetDeviceCount: cudaErrorNoDevice: no CUDA-capable device is detected" \
    "the program names the call and the error"
is "$(vgpuctl stats --json | json "[(v['submitted'], v['completed'], v['errors']) for v in j['vms']]")" \
    "[(1, 1, {})]" "the mediator answered one request: the batch with that call"

out=$(cuda "$(uuid_n 2)" 2>&1)
status=$?
is "$status" 1 "an unregistered VM: vector-add exits 1"
like "$out" "no CUDA device: unix:$dev_sock: VM 00000000-0000-4000-8000-000000000002 is not registered at the mediator" \
    "the library says the VM is not registered"
