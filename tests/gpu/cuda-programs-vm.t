#!/bin/bash
# On a GPU host: the CUDA test programs of tests/cuda/, built here with
# `nvcc -cudart shared`, run unchanged inside two TCG guests at once on the
# project's QEMU, on the guest's libcudart.so.13, against the real mediator
# whose pool runs on GPU 0 (the cuda backend and its per-VM CUDA workers).
# The two VMs have different priorities and GPU memory quotas.  Each VM's
# programs, out-of-bounds among them (its kernel faults), print exactly
# what the same programs print natively on NVIDIA's runtime (run here
# first), and the quota program sees its VM's quota as the device's
# memory.  A VM whose kernel faults gets the fault; the other VM, running
# beside it, keeps its results right.
#
# Needs what tests/e2e/ need (make qemu, make guest-image-client; on a GPU
# host without them, VGPU_QEMU, VGPU_GUEST_IMAGE and VGPU_QEMU_ARGS, e.g.
# "-L DIR" for the BIOS, as docs/gpu.md says) and the CUDA toolkit's
# libcudart.so.13 for the native run.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"

plan 12

GUEST_DIR=/opt/vgpu-cuda
QUOTA_HIGH=$((4 << 30))
QUOTA_LOW=$((2 << 30))
# Everything but quota runs in both VMs at once; quota runs alone in each
# (natively it fills the whole GPU).
SPECS=$("$runner" list | grep -v '^quota$')

[ -x "$bin/vector-add" ] || bail "no $bin/vector-add (make gpu-test-build)"

# The native run, on NVIDIA's runtime and one GPU as a VM sees.
native=$tmp/native
echo "$SPECS" | tr '\n' '\0' | xargs -0 env LD_LIBRARY_PATH="$cuda_lib" CUDA_VISIBLE_DEVICES=0 \
    "$runner" run -b "$bin" "$native" >"$tmp/native.tap"
is $? 0 "the programs pass natively" || { cat "$tmp/native.tap"; bail "no native run to compare"; }

e2e_cuda_layer "$tmp/cuda-layer" "$GUEST_DIR" "$bin"/* "$runner" || bail "cannot build the layer"
cat "$tmp/cuda-layer.cpio.gz" >>"$tmp/initramfs.cpio.gz"

gv_mediator_config "[pool A]
backend=cuda
gpus=0" "plugin-dir=$top/build/plugins" || bail "no config"
gv_mediator_start || bail "the mediator did not start"
high=$(uuid_n 21)
low=$(uuid_n 22)
vgpuctl register "$high" --pool A --priority high --vm-id 21 --name cuda-high \
    --gpu-memory "$QUOTA_HIGH" >/dev/null || bail "register failed"
vgpuctl register "$low" --pool A --priority low --vm-id 22 --name cuda-low \
    --gpu-memory "$QUOTA_LOW" >/dev/null || bail "register failed"

# shellcheck disable=SC2086  # extra QEMU arguments, word by word
gv_vm_start high "$high" ${VGPU_QEMU_ARGS:-}
# shellcheck disable=SC2086
gv_vm_start low "$low" ${VGPU_QEMU_ARGS:-}
boot_all "$GV_BOOT_LIMIT" high low
ok $? "both VMs boot and take commands" || bail "no VMs"

# guest_run NAME LIMIT OUTDIR SPEC...: the runner in the guest; its files
# come back on the console, each after a line "@@@ NAME".
guest_run() {
    local name=$1 limit=$2 out=$3 specs
    shift 3
    specs=$(printf "'%s' " "$@")
    mkdir -p "$out"
    gv_vm_run "$name" "$limit" "$(gv_bind_uio_command) 2>/dev/null; LD_LIBRARY_PATH=$GUEST_DIR/lib $GUEST_DIR/bin/run-programs.sh run -b $GUEST_DIR/bin /tmp/out $specs >/tmp/run.tap 2>&1; for f in /tmp/out/*; do echo \"@@@ \${f##*/}\"; cat \"\$f\"; done; rm -rf /tmp/out" |
        awk -v dir="$out" '/^@@@ / { f = dir "/" $2; printf "" > f; next } f { print >> f }'
}

# Both at once: the high VM's kernels fault three times (out-of-bounds)
# while the low VM runs the whole set.
mapfile -t spec_list <<< "$SPECS"
guest_run low 900 "$tmp/low" "${spec_list[@]}" &
low_pid=$!
guest_run high 900 "$tmp/faults" out-of-bounds "oob2=out-of-bounds" "oob3=out-of-bounds"
wait "$low_pid"
is "$(cat "$tmp"/faults/{out-of-bounds,oob2,oob3}.status 2>/dev/null | tr '\n' ' ')" "3 3 3 " \
    "the high VM's faulting kernel gets its fault, three times in a row" ||
    diag "$(cat "$tmp"/faults/*.out "$tmp"/faults/*.err 2>/dev/null)"
"$runner" compare "$native" "$tmp/low" >"$tmp/low.tap"
ok $? "the low VM's programs, run beside the faults, print what they print natively" ||
    diag "$(cat "$tmp/low.tap")"

guest_run high 900 "$tmp/high" "${spec_list[@]}"
"$runner" compare "$native" "$tmp/high" >"$tmp/high.tap"
ok $? "the high VM's programs, after its faults, print what they print natively" ||
    diag "$(cat "$tmp/high.tap")"
grep -h '^ok\|^not ok' "$tmp/high.tap" | sed 's/^/# high: /'

# The quota: each VM sees its own as the device's memory; allocating past it fails.
guest_run high 300 "$tmp/quota-high" "quota=quota $QUOTA_HIGH"
is "$(cat "$tmp/quota-high/quota.status") $(tail -n 1 "$tmp/quota-high/quota.out")" "0 PASS quota" \
    "the high VM's device has its 4 GiB quota as memory, and allocations stop there" ||
    diag "$(cat "$tmp"/quota-high/quota.*)"
guest_run low 300 "$tmp/quota-low" "quota=quota $QUOTA_LOW"
is "$(cat "$tmp/quota-low/quota.status") $(tail -n 1 "$tmp/quota-low/quota.out")" "0 PASS quota" \
    "the low VM's, its 2 GiB" || diag "$(cat "$tmp"/quota-low/quota.*)"

stats=$(vgpuctl stats --json)
for uuid in "$high" "$low"; do
    echo "$stats" | json "[v for v in j['vms'] if v['uuid'] == '$uuid'][0]['errors']" |
        grep -qv BACKEND
    ok $? "no request of VM $uuid failed in the backend: the faults were the VM's answers"
done
like "$(grep -c 'poisoned the VM' "$tmp/mediator.log")" "^[3-9]$|^[1-9][0-9]+$" \
    "the mediator's log says each fault ended the faulting VM's CUDA worker"

gv_vm_stop high
is $? 0 "the high VM powers off cleanly"
gv_vm_stop low
is $? 0 "the low VM powers off cleanly"
