#!/bin/bash
# vgpuctl attach / detach against a real libvirtd: what libvirt stores,
# idempotence, refusals and their exit codes, detach giving back the
# original definition, and the hand-written XML of docs/libvirt.md being
# the same thing attach writes.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 42
lv_init
lv_libvirt_start
lv_qemu_install
NS=urn:vgpu-stub:libvirt:1
WEB=vgpu-test-web-$$
PC=vgpu-test-pc-$$
BRIDGED=vgpu-test-bridged-$$
HAND=vgpu-test-hand-$$

attach() { lv_vgpuctl attach "$@" --emulator "$LV_EMULATOR"; }
inactive_xml() { lv_virsh dumpxml --inactive --security-info "$1"; }

lv_define_data virt-install-q35.xml "$WEB"
lv_define_data pc-minimal.xml "$PC"
lv_define_data q35-bridge.xml "$BRIDGED"
# libvirt orders some elements its own way on the first define; from then on
# a define of its own output gives the same text.  That is the original.
inactive_xml "$WEB" > "$LV_TMP/web-libvirt.xml" && lv_virsh define "$LV_TMP/web-libvirt.xml" >/dev/null
original=$(inactive_xml "$WEB")

# With a mediator at the runtime dir, a pool it does not have is refused
# now rather than at virsh start; without one, attach goes on (the rest).
lv_mediator_start "A B"
pc_before=$(inactive_xml "$PC")
out=$(attach "$PC" --pool C --priority low --vm-id 12 2>&1)
is "$?" 1 "attach with a pool the mediator does not have is refused (exit 1)"
is "$out" "vgpuctl attach: pool C is not configured at the mediator on $LV_RUN (pools: A, B); add [pool C] to its mediator.conf and restart it, or attach with one of those" \
    "naming the mediator and the pools it has"
is "$(inactive_xml "$PC")" "$pc_before" "and leaves the definition as it was"
out=$(attach "$PC" --pool B --priority low --vm-id 12 2>&1) && attach "$PC" --pool A --priority low --vm-id 12 >/dev/null 2>&1 &&
    lv_vgpuctl detach "$PC" >/dev/null
ok $? "a pool it has is attached" || diag "$out"
lv_mediator_stop

out=$(attach "$WEB" --pool A --priority high --vm-id 7 2>&1)
is "$?" 0 "attach to an ordinary q35 domain as virt-install writes it"
like "$out" "^domain '$WEB': vgpu-stub attached \(pool A, priority high, vm-id 7, slot 0x1c, mediator $LV_RUN/mediator.sock, emulator $LV_EMULATOR\)$" \
    "says what it attached, in one line"
is "$(lv_virsh metadata "$WEB" --uri "$NS")" '<device pool="A" priority="high" vm-id="7"/>' \
    "libvirt holds the metadata in our namespace"
xml=$(inactive_xml "$WEB")
like "$xml" "<emulator>$LV_EMULATOR</emulator>" "the emulator is the project's QEMU"
like "$xml" "<qemu:arg value='socket,id=vgpu0,path=$LV_RUN/mediator.sock,reconnect=1'/>" \
    "the chardev goes to the mediator's device socket"
like "$xml" "<qemu:arg value='vgpu-stub,chardev=vgpu0,bus=pcie.0,addr=0x1c'/>" \
    "the device sits on pcie.0 on q35"
like "$xml" "<libosinfo:os id=.http://debian.org/debian/12./>" "virt-install's own metadata stays"

out=$(attach "$WEB" --pool A --priority high --vm-id 7 2>&1)
is "$?" 0 "attaching again with the same values succeeds"
like "$out" "vgpu-stub already attached" "and says nothing changed"
is "$(inactive_xml "$WEB" | grep -c 'vgpu-stub,')" 1 "the domain still has one device"

attach "$WEB" --pool B --priority low --vm-id 8 --slot 0x1b >/dev/null
is "$?" 0 "attach with other values"
is "$(lv_virsh metadata "$WEB" --uri "$NS")" '<device pool="B" priority="low" vm-id="8"/>' \
    "updates the identity"
xml=$(inactive_xml "$WEB")
is "$(grep -c 'vgpu-stub,' <<<"$xml")/$(grep -c 'id=vgpu0,' <<<"$xml")" 1/1 "and keeps one device and one chardev"
like "$xml" "bus=pcie.0,addr=0x1b'" "at the new slot"

out=$(attach "$WEB" --pool B --priority low --vm-id 8 --slot 0x1b --gpu-memory 8G 2>&1)
like "$?:$out" "^0:domain '$WEB': vgpu-stub attached \(pool B, priority low, vm-id 8, gpu-memory 8G, slot 0x1b," \
    "attach with a GPU memory quota says so"
is "$(lv_virsh metadata "$WEB" --uri "$NS")" '<device pool="B" priority="low" vm-id="8" gpu-memory="8GiB"/>' \
    "libvirt holds it as gpu-memory=, in IEC units"
out=$(attach "$WEB" --pool B --priority low --vm-id 8 --slot 0x1b --gpu-memory 1.5GiB 2>&1)
is "$?:$out" "2:vgpuctl attach: --gpu-memory \"1.5GiB\" is not a size of 1 byte..1TiB (a byte count, or a number with KiB, MiB, GiB or TiB) (try vgpuctl attach --help)" \
    "a --gpu-memory that is not a size: exit 2, named"
attach "$WEB" --pool B --priority low --vm-id 8 --slot 0x1b >/dev/null

attach "$PC" --pool A --priority medium --vm-id 9 >/dev/null
is "$?" 0 "attach to a pc (i440fx) domain"
like "$(inactive_xml "$PC")" "vgpu-stub,chardev=vgpu0,bus=pci.0,addr=0x1c'" "puts the device on pci.0"

out=$(attach "$PC" --pool A --priority medium --vm-id 8 2>&1)
is "$?" 1 "a vm-id that another domain has is refused (exit 1)"
is "$out" "vgpuctl attach: vm-id 8 is already used by domain '$WEB'; each domain needs its own vm-id" \
    "naming the other domain"
like "$(lv_virsh metadata "$PC" --uri "$NS")" 'vm-id="9"' "and the domain keeps its identity"

out=$(attach "$BRIDGED" --pool A --priority low --vm-id 10 --slot 0x1e 2>&1)
is "$?" 1 "a slot another device of the domain uses is refused"
is "$out" "vgpuctl attach: domain '$BRIDGED': PCI slot 0x1e of the root bus is taken by the domain's <controller type='pci' model='dmi-to-pci-bridge'>" \
    "naming the device there"

out=$(attach "vgpu-test-none-$$" --pool A --priority low --vm-id 11 2>&1)
is "$?" 1 "an unknown domain is refused (exit 1)"
is "$out" "vgpuctl attach: no domain 'vgpu-test-none-$$' (virsh list --all shows them)" "with its name"

attach "$PC" --pool a --priority low --vm-id 11 >/dev/null 2>&1
is "$?" 2 "a bad pool is a usage error (exit 2)"
attach "$PC" --pool A --priority low >/dev/null 2>&1
is "$?" 2 "a missing --vm-id is a usage error"
attach "$PC" --pool A --priority low --vm-id 11 --slot 0x20 >/dev/null 2>&1
is "$?" 2 "a slot past 0x1f is a usage error"
out=$(attach "$PC" --pool A --priority low --vm-id 11 --connect "qemu+unix:///system?socket=$LV_TMP/none" 2>&1)
is "$?" 3 "libvirt not reachable: exit 3"
like "$out" "^vgpuctl attach: cannot connect to libvirt at qemu\+unix:///system\?socket=$LV_TMP/none: " \
    "naming the URI"

out=$(lv_vgpuctl detach "$WEB" 2>&1)
is "$?/$out" "0/domain '$WEB': vgpu-stub detached" "detach"
is "$(inactive_xml "$WEB")" "$original" "gives back exactly the definition from before attach"
out=$(lv_vgpuctl detach "$WEB" 2>&1)
is "$?/$out" "0/domain '$WEB': has no vgpu-stub device; nothing to detach" "detach again has nothing to do"

lv_vgpuctl --json detach "$PC" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d["action"]=="detach" and d["changed"] is True))'
is "$?" 0 "--json prints the result as JSON"

# The hand-written XML in docs/libvirt.md, with this test's paths and name.
sed -n '/<!-- test: hand-written-domain -->/,/^```$/p' "$LV_TOP/docs/libvirt.md" | sed '1,2d;$d' |
    sed -e "s|/run/vgpu/|$LV_RUN/|" -e "s|<emulator>[^<]*</emulator>|<emulator>$LV_EMULATOR</emulator>|" \
        -e "s|<domain type='kvm'|<domain type='$(lv_domain_type)'|" \
        -e "s|<name>[^<]*</name>|<name>$HAND</name>|" > "$LV_TMP/hand.xml"
lv_define "$HAND" "$LV_TMP/hand.xml"
is "$?" 0 "virsh define takes the hand-written XML of docs/libvirt.md"
out=$(attach "$HAND" --pool A --priority high --vm-id 7 2>&1)
like "$out" "vgpu-stub already attached" "and it is exactly what vgpuctl attach writes"
lv_vgpuctl detach "$HAND" >/dev/null
xml=$(inactive_xml "$HAND")
is "$(grep -cE 'vgpu-stub|urn:vgpu-stub|qemu:' <<<"$xml")" 0 "detach removes a hand-written device"
