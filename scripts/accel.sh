# Which accelerator runs the project's guests on this host.  Sourced by the
# device and libvirt tests and by scripts/guest-vms.sh (e2e tests, demo,
# bench); not a program.
#
#   vgpu_accel QEMU IMAGE_DIR
#       Prints "kvm" where a guest really boots under KVM, else "tcg".
#       /dev/kvm can open on a host whose (nested) KVM still hangs guests,
#       so the first call boots IMAGE_DIR's bare guest image (vmlinuz and
#       initramfs.cpio.gz of scripts/guest-image.sh) once under KVM and
#       looks for its init; that verdict is kept for this boot of the host.
#       Without /dev/kvm, or without the image to probe with, it is tcg.
#       VGPU_TEST_ACCEL=kvm or tcg forces one.

VGPU_KVM_CHECK_LIMIT=20     # seconds the probe boot may take

vgpu_accel() {
    local qemu=$1 image=$2 verdict
    case ${VGPU_TEST_ACCEL:-auto} in
    kvm|tcg) echo "$VGPU_TEST_ACCEL"; return ;;
    esac
    verdict=${TMPDIR:-/tmp}/vgpu-stub-accel.$(cat /proc/sys/kernel/random/boot_id)
    [ -s "$verdict" ] && { cat "$verdict"; return; }
    if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -f "$image/vmlinuz" ]; then
        # Only a probe boot's verdict is kept: without one, TCG this time.
        echo tcg
        return
    fi
    if timeout --kill-after=2 "$VGPU_KVM_CHECK_LIMIT" "$qemu" -accel kvm -machine q35 \
             -m 256 -nodefaults -display none -no-reboot -serial stdio \
             -kernel "$image/vmlinuz" -initrd "$image/initramfs.cpio.gz" \
             -append "console=ttyS0 panic=-1 quiet" 2>/dev/null </dev/null |
             grep -q '^==== vgpu-test end'; then
        echo kvm >"$verdict"
    else
        echo tcg >"$verdict"
    fi
    cat "$verdict"
}
