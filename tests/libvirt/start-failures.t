#!/bin/bash
# `virsh start` of a vgpu domain fails with the hook's one-line message when
# the metadata is wrong, the vm-id is taken, the pool is unknown, or the
# mediator is down; the domain then neither runs nor stays registered.  A
# domain without vgpu metadata starts with the mediator down.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 20
lv_init
lv_libvirt_start
lv_qemu_install
lv_mediator_start "A B"
lv_hook_install
NS=urn:vgpu-stub:libvirt:1
VMID=$((100000 + $$ % 100000 * 10))

cat > "$LV_TMP/guest.sh" <<'GUEST'
#!/bin/sh
sleep 600
GUEST
lv_guest_image "$LV_TMP/guest.sh"
F1=vgpu-test-f1-$$
PLAIN=vgpu-test-plain-$$
lv_guest_domain "$F1" q35
lv_guest_domain "$PLAIN" pc
lv_vgpuctl attach "$F1" --pool A --priority high --vm-id "$VMID" --emulator "$LV_EMULATOR" >/dev/null ||
    bail "attach failed"
F1_UUID=$(lv_virsh domuuid "$F1")

set_metadata() { lv_virsh metadata "$F1" --uri "$NS" --key vgpu --set "<device $1/>" --config; }
running() { lv_virsh domstate "$F1" | grep -qx running; }

# start_fails WHY MESSAGE: virsh start F1 fails, shows MESSAGE, leaves nothing behind.
start_fails() {
    local out status
    out=$(lv_virsh start "$F1" 2>&1)
    status=$?
    ok $((status == 0)) "$1: virsh start fails"
    like "$out" "Hook script execution failed: .*unexpected exit status 1: $2\$" \
        "$1: virsh shows the hook's message" || diag "$out"
    ok $(running && echo 1 || echo 0) "$1: the domain does not run"
    is "$(lv_list_field "$F1_UUID" name)" "" "$1: and is not registered"
}

set_metadata "pool='A' priority='urgent' vm-id='$VMID'"
is "$?" 0 "virsh metadata --set changes our element"
start_fails "bad priority" \
    "vgpu: domain '$F1': priority 'urgent' in <vgpu:device> is not low, medium or high"

set_metadata "pool='Q' priority='high' vm-id='$VMID'" >/dev/null
start_fails "unknown pool" \
    "vgpu: domain '$F1': pool Q is not configured in $LV_TMP/mediator.conf \(pools: A, B\)"

set_metadata "pool='A' priority='high' vm-id='$VMID'" >/dev/null
OTHER=6f1c2b3a-4d5e-4f60-8172-93a4b5c6d7e8
lv_vgpuctl register "$OTHER" --name other-vm --pool B --priority low --vm-id "$VMID" >/dev/null
start_fails "vm-id taken" \
    "vgpu: domain '$F1': vm-id $VMID is already used by domain 'other-vm' \(uuid $OTHER\)"
lv_vgpuctl unregister "$OTHER" >/dev/null

lv_mediator_stop
start_fails "mediator down" \
    "vgpu: domain '$F1': vgpu-mediatord is not running \(no socket at $LV_RUN/control.sock\)"

out=$(lv_virsh start "$PLAIN" 2>&1)
is "$?" 0 "a domain without vgpu metadata starts with the mediator down" || diag "$out"
lv_virsh destroy "$PLAIN" >/dev/null 2>&1

lv_mediator_start "A B"
out=$(lv_virsh start "$F1" 2>&1)
is "$?" 0 "with the mediator back, the domain starts" || diag "$out"
is "$(lv_list_field "$F1_UUID" pid)" "$(cat "/run/libvirt/qemu/$F1.pid")" "and is registered with its pid"
