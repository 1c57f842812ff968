#!/bin/bash
# Every domain the tests hand to libvirt (the data files, the hand-written
# XML of docs/libvirt.md, guest-domain.sh's output) is defined on this host
# with the domain type the host can run, and also as on a host without KVM
# (VGPU_TEST_ACCEL=tcg), where libvirt refuses type kvm: the tests pass on
# hosts with and without a working KVM, whichever this one is.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

FILES=$(cd "$LV_TOP/tests/libvirt/data" && ls ./*.xml | sed 's|^\./||')
plan $(( $(wc -w <<<"$FILES") * 4 + 4 ))
lv_init
lv_libvirt_start
lv_qemu_install

defined_type() { lv_virsh dumpxml --inactive "$1" | sed -n "s/^<domain type='\([a-z]*\)'.*/\1/p"; }

for accel in auto tcg; do
    if [ "$accel" = tcg ]; then want=qemu; else want=$(lv_domain_type); fi
    for file in $FILES; do
        name=vgpu-test-type-$accel-${file%.xml}-$$
        VGPU_TEST_ACCEL=${accel/auto/} lv_define_data "$file" "$name"
        is "$?" 0 "$file is defined (accelerator $accel)"
        is "$(defined_type "$name")" "$want" "$file has type $want (accelerator $accel)"
    done
done

# The hand-written domain of docs/libvirt.md, as attach-detach.t defines it.
sed -n '/<!-- test: hand-written-domain -->/,/^```$/p' "$LV_TOP/docs/libvirt.md" | sed '1,2d;$d' |
    sed -e "s|<emulator>[^<]*</emulator>|<emulator>$LV_EMULATOR</emulator>|" \
        -e "s|<name>[^<]*</name>|<name>vgpu-test-type-hand-$$</name>|" \
        -e "s|<domain type='kvm'|<domain type='qemu'|" > "$LV_TMP/hand.xml"
lv_define "vgpu-test-type-hand-$$" "$LV_TMP/hand.xml"
is "$?" 0 "the hand-written XML of docs/libvirt.md is defined as type qemu"

# guest-domain.sh's default runs everywhere.
"$LV_TOP/scripts/guest-domain.sh" --name "vgpu-test-type-gd-$$" \
    --kernel "$LV_TMP/vmlinuz" --initrd "$LV_TMP/initrd" --console "$LV_TMP/gd.console" \
    --emulator "$LV_EMULATOR" > "$LV_TMP/gd.xml"
lv_define "vgpu-test-type-gd-$$" "$LV_TMP/gd.xml"
is "$?" 0 "guest-domain.sh's domain is defined"
is "$(defined_type "vgpu-test-type-gd-$$")" qemu "guest-domain.sh defaults to type qemu"

# Where KVM does not run guests, nothing may ask for type kvm.
if [ "$(lv_domain_type)" = qemu ]; then
    sed -e "s|<domain type='[a-z]*'|<domain type='kvm'|" -e "s|<name>[^<]*</name>|<name>vgpu-test-kvm-$$</name>|" \
        -e "/<uuid>/d" -e "s|<emulator>[^<]*</emulator>|<emulator>$LV_EMULATOR</emulator>|" \
        "$LV_TOP/tests/libvirt/data/pc-minimal.xml" > "$LV_TMP/kvm.xml"
    LV_DOMAINS+=("vgpu-test-kvm-$$")
    out=$(lv_virsh define "$LV_TMP/kvm.xml" 2>&1)
    like "$out" "does not support virt type 'kvm'" \
        "libvirt itself refuses type kvm here (what the substitution avoids)"
else
    out=$(VGPU_TEST_ACCEL=tcg lv_domain_type)
    is "$out" qemu "with KVM working, a forced TCG host still gets type qemu"
fi
