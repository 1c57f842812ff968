#!/bin/bash
# The data window through the whole path: one booted VM with the device's
# default 64 MiB window, the real mediator with the cpu backend.  From
# inside the guest, vgpu-client runs each array operation (vadd u32 and
# f32, saxpy, sum, sgemm checked entry by entry and by sample) on data it
# writes into BAR2, and checks the host's result against its own; arrays
# that do not fit are refused in the guest without a request, and the same
# request sent --unchecked is refused by the mediator with BAD_RANGE.  The
# mediator counts exactly those requests.  Sizes are small enough for TCG.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 14

WINDOW=$((64 << 20))                # the device's default window-size
OP_LIMIT=120                        # seconds for one operation in a TCG guest

gv_mediator_config "[pool A]
backend=cpu"
gv_mediator_start || bail "the mediator did not start"
uuid=$(uuid_n 1)
vgpuctl register "$uuid" --pool A --priority high --vm-id 9 --name e2e-window >/dev/null ||
    bail "register failed"

gv_vm_start guest "$uuid"
gv_vm_wait_ready guest
ok $? "the VM boots and its agent takes commands" || bail "no VM"

info=$(gv_vm_run guest 30 "vgpu-client info")
like "$(echo "$info" | tr '\n' ' ')" \
    "capabilities: +0x00000003 completion-irq data-window window: +64 MiB " \
    "info shows the data-window capability and the 64 MiB window"

# run_op NAME ARGS...: run vgpu-client --json ARGS in the guest; $op_status
# gets its exit status, $op_json its JSON line, $op_out all it printed.
run_op() {
    local name=$1; shift
    op_out=$(gv_vm_run guest "$OP_LIMIT" "vgpu-client --json $*")
    op_status=$?
    op_json=$(echo "$op_out" | grep '^{' | tail -n 1)
    [ "$op_status" = 0 ] || diag "$name: exit $op_status: $op_out"
}

# error_code NAME: the number of an error code in include/vgpu/errors.h.
error_code() { sed -nE "s/^ *X\(([0-9]+), *$1,.*/\1/p" "$top/include/vgpu/errors.h"; }

# passed EXPR: of the JSON of the last run_op, its check ("ok") and EXPR,
# printed space-separated (a tuple EXPR gives print() several arguments).
passed() { echo "$op_json" | json "j['check'], $1"; }

run_op vadd-u32 vadd --type u32 --size 256k --seed 11
is "$op_status:$(passed "j['op'], j['count'], j['checked'], j['window_size']")" \
    "0:ok ADD_U32 65536 65536 $WINDOW" \
    "vadd u32 over 256 KiB arrays: every sum bit-exact (mod 2^32)"

run_op vadd-f32 vadd --type f32 --size 256k --seed 12
is "$op_status:$(passed "j['op'], j['checked'], j['bytes_moved'], j['gb_per_s'] > 0")" \
    "0:ok ADD_F32 65536 786432 True" \
    "vadd f32 over 256 KiB arrays: bit-exact, and a rate over the 768 KiB moved"

run_op saxpy saxpy --size 256k --alpha -0.75 --seed 13
is "$op_status:$(passed "j['op'], j['alpha'], j['checked']")" "0:ok SAXPY -0.75 65536" \
    "saxpy over 256 KiB arrays equals fmaf bit for bit"

run_op sum sum --size 256k --seed 14
is "$op_status:$(passed "j['op'], j['check_mode'], abs(j['sum'] - j['reference']) <= j['bound']")" \
    "0:ok SUM_F32 bound True" \
    "sum of 65536 floats in double, within n 2^-52 sum|x| of the guest's"

run_op sgemm sgemm --m 64 --n 48 --k 40 --alpha 1.5 --beta -0.5 --seed 15
is "$op_status:$(passed "j['op'], j['check_mode'], j['checked'], j['flops'], j['gflop_per_s'] > 0")" \
    "0:ok SGEMM all 3072 245760 True" \
    "sgemm 64x48x40 with alpha and beta: all 3072 entries within the f32 bound"

# 256 x 256 x 257 is past 2^24 multiply-adds: the guest checks a sample.
run_op sgemm-sampled sgemm --m 256 --n 256 --k 257 --seed 16
is "$op_status:$(passed "j['check_mode'], j['checked'], j['total']")" \
    "0:ok sample 1024 65536" \
    "sgemm 256x256x257: 1024 seeded entries (first and last among them) within the bound"

submitted() { vgpuctl stats --json | json "j['vms'][0]['submitted']"; }
before=$(submitted)
out=$(gv_vm_run guest 30 "vgpu-client vadd --size 32M")
status=$?
is "$status" 2 "vadd of three 32 MiB arrays does not fit the 64 MiB window: a usage error (exit 2)"
like "$out" "vadd does not fit the data window of 0000:00:1e.0: its arrays \(a at 0, b at 33554432, out at 67108864\) need 100663296 bytes, the window has 67108864" \
    "it says which arrays need how much"
is "$(submitted)" "$before" "and no request reached the mediator"

run_op unchecked --unchecked vadd --size 32M
is "$op_status:$(echo "$op_json" | json "j['error']['device_error'], j['error']['device_error_code']")" \
    "1:BAD_RANGE $(error_code BAD_RANGE)" \
    "sent --unchecked, the mediator refuses it: ERROR BAD_RANGE (exit 1)"

# Six operations completed, the unchecked one refused: nothing else ran.
is "$(vgpuctl stats --json | json "[(v['submitted'], v['completed'], v['errors']) for v in j['vms']]")" \
    "[(7, 6, {'BAD_RANGE': 1})]" "the mediator counted six completed operations and one BAD_RANGE"

gv_vm_stop guest
is $? 0 "the VM powers off cleanly when its agent ends"
