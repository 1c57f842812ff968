#!/bin/bash
# One booted VM, the real mediator (cpu backend): vgpu-client info shows the
# identity the registry gives (and follows unregister and a new register
# without a reboot), add returns a + b mod 2^32 through the whole path, the
# device's TIMESTAMP is the host's CLOCK_MONOTONIC at completion, and the
# mediator counts every request of the VM.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 14

gv_mediator_config "[pool A]
backend=cpu
[pool B]
backend=cpu"
gv_mediator_start || bail "the mediator did not start"
uuid=$(uuid_n 1)
vgpuctl register "$uuid" --pool B --priority medium --vm-id 42 --name e2e-guest >/dev/null ||
    bail "register failed"

gv_vm_start guest "$uuid"
gv_vm_wait_ready guest
ok $? "the VM boots and its agent takes commands" || { show_logs; bail "no VM"; }
is "$(vm_field "$uuid" CONNECTED)" 1 "its device is connected to the mediator"

vendor=$(printf '0x%04x' "$(vgpu_contract_value VGPU_PCI_VENDOR_ID)")
device=$(printf '0x%04x' "$(vgpu_contract_value VGPU_PCI_DEVICE_ID)")
info=$(gv_vm_run guest 30 "vgpu-client info")
ok $? "vgpu-client info succeeds"
like "$(echo "$info" | tr '\n' ' ')" "address: +0000:00:1e.0 vendor: +$vendor device: +$device " \
    "info finds the device at its slot with the contract's ids"
like "$(echo "$info" | tr '\n' ' ')" "pool: +B priority: +medium vm-id: +42 protocol: +1.0 " \
    "info shows the registered pool, priority and vm-id, and protocol 1.0"

is "$(gv_vm_run guest 30 "vgpu-client add 2 40")" 42 "add 2 40 prints 42"

# Sums past 2^32 wrap; the expected values are computed here.
wrap_pairs="4294967295:1 0xffffffff:0xffffffff 0x80000000:0x80000000 4000000000:500000000"
command="" want=""
for pair in $wrap_pairs; do
    a=${pair%:*} b=${pair#*:}
    command+="vgpu-client add $a $b; "
    want+="$(( (a + b) % 4294967296 )) "
done
got=$(gv_vm_run guest 30 "$command" | tr '\n' ' ')
is "$got" "$want" "add wraps modulo 2^32 ($wrap_pairs)"

before=$(monotonic_ns)
add_json=$(gv_vm_run guest 30 "vgpu-client --json add 1000 2000")
after=$(monotonic_ns)
is "$(echo "$add_json" | client_json "j['sum'], j['wait']")" "3000 poll" \
    "add --json gives the sum and says it polled"
stamp=$(echo "$add_json" | client_json "j['timestamp_ns']")
ok "$([ "$before" -le "$stamp" ] && [ "$stamp" -le "$after" ]; echo $?)" \
    "its timestamp_ns is the host's CLOCK_MONOTONIC at completion ($before <= $stamp <= $after)"

requests=$((1 + $(echo "$wrap_pairs" | wc -w) + 1))
is "$(vgpuctl stats --json | json "[(v['submitted'], v['completed'], v['errors']) for v in j['vms']]")" \
    "[($requests, $requests, {})]" "the mediator counted the VM's $requests requests, all completed"

# Identity follows the registry while the VM runs.
vgpuctl unregister "$uuid" >/dev/null
info=$(gv_vm_run guest 60 "$(await_identity false); vgpu-client info")
like "$(echo "$info" | tr '\n' ' ')" "pool: +none .* vm-id: +none " \
    "after unregister, info shows no identity"
err=$(gv_vm_run guest 30 "vgpu-client --json add 1 2")
is "$?:$(echo "$err" | client_json "j['error']['device_error']")" 1:NOT_REGISTERED \
    "add ends in ERROR NOT_REGISTERED (exit 1)"

vgpuctl register "$uuid" --pool A --priority high --vm-id 43 --name e2e-guest >/dev/null
info=$(gv_vm_run guest 60 "$(await_identity true); vgpu-client info && vgpu-client add 20 22")
like "$(echo "$info" | tr '\n' ' ')" "pool: +A priority: +high vm-id: +43 .* 42 $" \
    "registered again with a new identity, the device shows it and add works, without a reboot"

gv_vm_stop guest
is $? 0 "the VM powers off cleanly when its agent ends"
