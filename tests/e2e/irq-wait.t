#!/bin/bash
# The interrupt-driven wait in a booted guest: before uio_pci_generic is
# bound, --wait irq is refused and auto polls; once the guest loads
# Debian's uio.ko and uio_pci_generic.ko and binds the device by its ids,
# auto picks irq, and requests that take 100 ms at the mediator complete
# through /dev/uio0 with exactly one interrupt each.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 10

gv_mediator_config "[pool A]
backend=cpu
workers=1
service-time-us=100000"
gv_mediator_start || bail "the mediator did not start"
uuid=$(uuid_n 1)
vgpuctl register "$uuid" --pool A --priority high --vm-id 1 --name irq >/dev/null ||
    bail "register failed"
gv_vm_start guest "$uuid"
gv_vm_wait_ready guest
ok $? "the VM boots" || bail "no VM"

out=$(gv_vm_run guest 30 "vgpu-client --wait irq add 1 2")
is "$?" 3 "before uio_pci_generic is bound, --wait irq is refused (exit 3)"
like "$(gv_vm_run guest 30 "vgpu-client info")" "wait: +poll" "and auto polls"

ids=$(printf '%04x %04x' "$(vgpu_contract_value VGPU_PCI_VENDOR_ID)" "$(vgpu_contract_value VGPU_PCI_DEVICE_ID)")
dev=/sys/bus/pci/devices/0000:00:1e.0
out=$(gv_vm_run guest 30 "$(gv_bind_uio_command) && basename \$(readlink $dev/driver)")
is "$?:$out" "0:uio_pci_generic" "uio_pci_generic binds the device by its ids ($ids)"
like "$(gv_vm_run guest 30 "vgpu-client info")" "wait: +irq \(/dev/uio0\)" \
    "now auto waits on the interrupt through /dev/uio0"

events() { gv_vm_run guest 30 "cat /sys/class/uio/uio0/event"; }
before=$(events)
add=$(gv_vm_run guest 30 "vgpu-client --json --wait irq add 5 6")
is "$(echo "$add" | client_json "j['sum'], j['wait']")" "11 irq" "add --wait irq gives 5 + 6 and waited on irq"
BENCH_COUNT=20
bench=$(gv_vm_run guest 60 "vgpu-client --json --wait irq bench -n $BENCH_COUNT")
is "$(echo "$bench" | client_json "j['count'], j['wait']")" "$BENCH_COUNT irq" \
    "bench --wait irq runs its $BENCH_COUNT requests on irq"
after=$(events)
is "$((after - before))" "$((1 + BENCH_COUNT))" \
    "the device raised exactly one interrupt per request ($before -> $after)"
kernel=$(gv_vm_run guest 30 "grep uio_pci_generic /proc/interrupts" | awk '{ s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s }')
is "$kernel" "$after" "the kernel's count for uio_pci_generic in /proc/interrupts agrees"
is "$(vgpuctl stats --json | json "j['vms'][0]['completed']")" "$((1 + BENCH_COUNT))" \
    "the mediator completed those $((1 + BENCH_COUNT)) requests"
