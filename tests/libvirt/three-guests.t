#!/bin/bash
# The whole path through libvirt: three domains get the device with
# `vgpuctl attach` (two guest-image domains on q35 and pc, and an ordinary
# q35 domain as virt-install writes it: virtio disk and NIC, VNC, USB
# tablet), `virsh start` runs them on the project's QEMU, the hook registers
# each with its identity, every guest computes through the device, a
# libvirtd restart leaves them served, and `virsh destroy` unregisters each.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 37
lv_init
lv_libvirt_start
lv_qemu_install
lv_mediator_start "A B"
lv_hook_install
BOOT_LIMIT=180          # seconds for a guest to boot and compute, TCG on a busy host
VMID=$((100000 + $$ % 100000 * 10))     # vm-ids no domain of this host has

cat > "$LV_TMP/guest.sh" <<'GUEST'
#!/bin/sh
# Wait for the identity, show it, then compute until the host destroys us.
tries=0
while vgpu-client info | grep -q '^pool: *none'; do
    tries=$((tries + 1))
    [ $tries -ge 120 ] && break
    sleep 0.5
done
vgpu-client info | sed 's/^/info: /'
n=1
while [ $n -le 1000 ]; do
    echo "add $n: $(vgpu-client add $n 1000 2>&1)"
    n=$((n + 1))
    sleep 0.3
done
GUEST
lv_guest_image "$LV_TMP/guest.sh"
TYPE=$(lv_domain_type)
diag "domain type: $TYPE"

G1=vgpu-test-g1-$$
G2=vgpu-test-g2-$$
G3=vgpu-test-g3-$$
lv_guest_domain "$G1" q35
lv_guest_domain "$G2" pc

# G3: virt-install's q35 domain (tests/libvirt/data), booting the guest image
# from its kernel and initrd, with a virtio disk and a user-mode virtio NIC.
qemu-img create -q -f qcow2 "$LV_TMP/$G3.qcow2" 64M || bail "qemu-img failed"
sed -e "s|<name>[^<]*</name>|<name>$G3</name>|" -e "/<uuid>/d" \
    -e "s|<type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>|&<kernel>$LV_GUEST/vmlinuz</kernel><initrd>$LV_GUEST/test-initramfs.cpio.gz</initrd><cmdline>console=ttyS0 panic=-1 quiet</cmdline>|" \
    -e "s|<domain type=\"kvm\">|<domain type=\"$TYPE\">|" \
    -e "s|<cpu mode=\"host-passthrough\"[^>]*/>||" \
    -e "s|<on_reboot>restart</on_reboot>|<on_reboot>destroy</on_reboot>|" \
    -e "s|<emulator>[^<]*</emulator>|<emulator>$LV_EMULATOR</emulator>|" \
    -e "s|/var/lib/libvirt/images/web1.qcow2|$LV_TMP/$G3.qcow2|" \
    -e "s|<interface type=\"network\">|<interface type=\"user\">|" -e "/<source network=/d" \
    -e "s|<serial type=\"pty\">|<serial type=\"file\"><source path=\"$LV_TMP/$G3.console\"/>|" \
    -e "/<console type=\"pty\">/,/<\/console>/d" \
    -e "s|<listen type=\"address\"/>|<listen type=\"address\" address=\"127.0.0.1\"/>|" \
    "$LV_TOP/tests/libvirt/data/virt-install-q35.xml" > "$LV_TMP/$G3.xml"
lv_define "$G3" "$LV_TMP/$G3.xml"
is "$?" 0 "an ordinary q35 domain as virt-install writes it is defined"

# name pool priority vm-id
set -- "$G1 A high $((VMID + 1))" "$G2 B low $((VMID + 2))" "$G3 A medium $((VMID + 3))"
for vm in "$@"; do
    read -r name pool priority id <<<"$vm"
    lv_vgpuctl attach "$name" --pool "$pool" --priority "$priority" --vm-id "$id" \
        --emulator "$LV_EMULATOR" >/dev/null
    is "$?" 0 "vgpuctl attach $name --pool $pool --priority $priority"
done

for vm in "$@"; do
    read -r name pool priority id <<<"$vm"
    out=$(lv_virsh start "$name" 2>&1)
    is "$?" 0 "virsh start $name" || diag "$out"
done
uuid() { lv_virsh domuuid "$1"; }
qemu_pid() { cat "/run/libvirt/qemu/$1.pid"; }
results() { lv_console "$1" | grep -c '^add [0-9]*: [0-9][0-9]*$'; }    # right or wrong, checked below
has_results() { [ "$(results "$1")" -ge "$2" ]; }

for vm in "$@"; do
    read -r name pool priority id <<<"$vm"
    vgpu_wait_until "$BOOT_LIMIT" has_results "$name" 2
    console=$(lv_console "$name")
    like "$console" "info: pool: +$pool
info: priority: +$priority
info: vm-id: +$id" "$name: the guest sees the identity from its XML (pool $pool, $priority, vm-id $id)" ||
        diag "$(tail -n 20 <<<"$console")"
    like "$console" "add 1: 1001
" "$name: the guest computes through the device (1 + 1000 = 1001)"
done

for vm in "$@"; do
    read -r name pool priority id <<<"$vm"
    u=$(uuid "$name")
    is "$(lv_list_field "$u" name)/$(lv_list_field "$u" pool)/$(lv_list_field "$u" priority)/$(lv_list_field "$u" vm_id)" \
        "$name/$pool/$priority/$id" "vgpuctl list shows $name with its identity"
    is "$(lv_list_field "$u" pid)/$(lv_list_field "$u" connected)" "$(qemu_pid "$name")/1" \
        "$name: registered with its QEMU's pid, its device connected"
done

# A running domain: attach edits the definition and says it applies later.
read -r name pool priority id <<<"$2"
out=$(lv_vgpuctl attach "$name" --pool B --priority medium --vm-id "$id" --emulator "$LV_EMULATOR" 2>&1)
is "$?" 0 "attach on a running domain succeeds"
like "$out" "warning: domain '$name' is running: the change applies at its next start" "and warns"
is "$(lv_list_field "$(uuid "$name")" priority)" low "the running domain keeps the identity it started with"

# libvirtd restarts while the guests run: they stay registered and served.
# While it is down, G1's registration goes (as when the mediator lost it):
# libvirtd's reconnect hook must register G1 again, with its pid.
declare -A before
for vm in "$@"; do
    read -r name _ <<<"$vm"
    before[$name]=$(results "$name")
done
G1_UUID=$(uuid "$G1")
lv_libvirt_restart lv_vgpuctl unregister "$G1_UUID" >/dev/null
is "$(lv_virsh list --name | grep -c "^vgpu-test-g[123]-$$\$")" 3 "after a libvirtd restart the three domains still run"
registered() { [ -n "$(lv_list_field "$1" name)" ]; }
vgpu_wait_until 60 registered "$G1_UUID"
is "$(lv_list_field "$G1_UUID" vm_id)/$(lv_list_field "$G1_UUID" pid)" "$((VMID + 1))/$(qemu_pid "$G1")" \
    "the reconnect hook registered $G1 again, with its identity and pid"
for vm in "$@"; do
    read -r name pool priority id <<<"$vm"
    vgpu_wait_until 60 has_results "$name" $((before[$name] + 5))
    ok $? "$name: still computing after the restart (at least 5 more results)"
    wrong=$(lv_console "$name" | awk '/^add [0-9]+: [0-9]+$/ && $3 != $2 + 1000 { n++ } END { print n + 0 }')
    is "$wrong" 0 "$name: and every result is right"
    is "$(lv_list_field "$(uuid "$name")" pid)" "$(qemu_pid "$name")" "$name: still registered with its pid"
done

for vm in "$@"; do
    read -r name _ <<<"$vm"
    u=$(uuid "$name")
    lv_virsh destroy "$name" >/dev/null
    is "$(lv_list_field "$u" name)" "" "virsh destroy $name removes it from the registry"
done
is "$(lv_vgpuctl --json list | grep -c '"uuid"')" 0 "the registry is empty"
