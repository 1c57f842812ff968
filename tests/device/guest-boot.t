#!/bin/bash
# A booted guest (Debian's kernel, busybox initramfs; KVM or TCG) on pc and
# q35 finds vgpu-stub in /sys/bus/pci by its ids, reads PROTOCOL_VER through
# resource0, finds the data window (BAR2, placed by the firmware) as
# resource2 of WINDOW_SIZE bytes of memory, and binds uio_pci_generic to it
# (which needs INTx masking).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

machines="pc q35"
BOOT_LIMIT=180      # seconds for one boot under TCG on a slow, busy host
plan $((6 * 2))
diag "accelerator: $(accel_args)"

[ -f "$GUEST_IMAGE/vmlinuz" ] || bail "no guest image: run 'make guest-image'"
[ -x "$PROBE" ] || bail "no $PROBE: run 'make $PROBE'"

protocol=$(printf '0x%08x' "$(vgpu_contract_value VGPU_PROTOCOL_VERSION)")
window=$((64 << 20))    # the default window-size

mkdir -p "$tmp/test/bin"
cp "$PROBE" "$tmp/test/bin/vgpu-probe"
cat >"$tmp/test/vgpu-test.sh" <<'GUEST'
#!/bin/sh
dev=$(vgpu-probe find) || exit 1
echo "device: ${dev##*/}"
vgpu-probe read PROTOCOL_VER STATUS VM_ID || exit 1
vgpu-probe window || exit 1
insmod /lib/modules/vgpu/uio.ko || exit 1
insmod /lib/modules/vgpu/uio_pci_generic.ko || exit 1
vgpu-probe ids >/sys/bus/pci/drivers/uio_pci_generic/new_id || exit 1
driver=$(readlink "$dev/driver")
echo "driver: ${driver##*/}"
echo "uio: $(ls "$dev/uio")"
vgpu-probe read PROTOCOL_VER | sed 's/^/bound /' || exit 1
GUEST
chmod 755 "$tmp/test/vgpu-test.sh"
"$top/scripts/guest-image.sh" pack "$tmp/test" "$tmp/test.cpio.gz"
cat "$GUEST_IMAGE/initramfs.cpio.gz" "$tmp/test.cpio.gz" >"$tmp/initramfs.cpio.gz"

for machine in $machines; do
    serial=$tmp/serial-$machine.log
    start_qemu "boot-$machine" $(accel_args) -machine "$machine" -m 256 -nodefaults \
        -display none -no-reboot -serial "file:$serial" \
        -kernel "$GUEST_IMAGE/vmlinuz" -initrd "$tmp/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 quiet" \
        -device vgpu-stub,addr=0x1e
    vgpu_wait_pid "$BOOT_LIMIT" "$qemu_pid"
    status=$?
    out=$(sed -n '/^==== vgpu-test begin/,/^==== vgpu-test end/p' "$serial" | tr -d '\r')
    is "$status" 0 "$machine: the guest boots and powers off"
    like "$out" "status 0 ====" "$machine: the guest test script succeeds"
    like "$out" "device: 0000:00:1e.0" "$machine: the guest finds the device at its slot by its ids"
    like "$out" "PROTOCOL_VER=$protocol" "$machine: PROTOCOL_VER reads $protocol through resource0"
    like "$out" "WINDOW_SIZE=$window resource2=$window first=0x11223344 last=0x55667788" \
        "$machine: resource2 is the 64 MiB window, its first and last words memory"
    like "$(echo "$out" | tr '\n' ' ')" "driver: uio_pci_generic uio: uio0 bound PROTOCOL_VER=$protocol" \
        "$machine: uio_pci_generic binds it and resource0 stays mappable"
    if [ "$status" != 0 ] || ! grep -q 'status 0' "$serial"; then
        diag "serial console:" "$(tail -n 40 "$serial")" "QEMU:" "$(cat "$tmp/boot-$machine.log")"
    fi
done
