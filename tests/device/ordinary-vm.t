#!/bin/bash
# The QEMU build runs users' ordinary domains, not only test guests: on pc
# and q35 it starts a VM with a qcow2 virtio-blk disk, virtio-net on a
# socket netdev, e1000 on user networking, VGA or virtio-vga with VNC on a
# Unix socket, a USB tablet, a serial console, the guest agent channel,
# balloon, rng, sound, watchdog and panic devices, PCIe root ports (q35),
# and vgpu-stub, as libvirt would; the booted guest sees them all on PCI.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

machines="pc q35"
BOOT_LIMIT=180
plan $((9 * 2))

[ -f "$GUEST_IMAGE/vmlinuz" ] || bail "no guest image: run 'make guest-image'"
[ -x "$PROBE" ] || bail "no $PROBE: run 'make $PROBE'"
command -v qemu-img >/dev/null || bail "no qemu-img: install qemu-utils (make deps)"
diag "accelerator: $(accel_args)"

vendor=$(vgpu_contract_value VGPU_PCI_VENDOR_ID)
device=$(vgpu_contract_value VGPU_PCI_DEVICE_ID)
protocol=$(printf '0x%08x' "$(vgpu_contract_value VGPU_PROTOCOL_VERSION)")

# The guest lists what it sees on PCI (vendor:device) and reads the device.
mkdir -p "$tmp/test/bin"
cp "$PROBE" "$tmp/test/bin/vgpu-probe"
cat >"$tmp/test/vgpu-test.sh" <<'GUEST'
#!/bin/sh
for d in /sys/bus/pci/devices/*; do
    v=$(cat "$d/vendor"); p=$(cat "$d/device")
    echo "pci ${v#0x}:${p#0x}"
done
vgpu-probe read PROTOCOL_VER
GUEST
chmod 755 "$tmp/test/vgpu-test.sh"
"$top/scripts/guest-image.sh" pack "$tmp/test" "$tmp/test.cpio.gz"
cat "$GUEST_IMAGE/initramfs.cpio.gz" "$tmp/test.cpio.gz" >"$tmp/initramfs.cpio.gz"

# Devices libvirt gives an ordinary domain of each machine type
machine_devices() {
    case $1 in
    pc)
        echo "-device VGA,id=video0 -device piix3-usb-uhci,id=usb
              -device intel-hda,id=sound0 -device hda-duplex,audiodev=snd0
              -device virtio-blk-pci,drive=disk0,id=virtio-disk0
              -device virtio-net-pci,netdev=net0,id=net0"
        ;;
    q35)
        echo "-device pcie-root-port,id=pci.1,chassis=1,port=0x10,bus=pcie.0,addr=0x2
              -device pcie-root-port,id=pci.2,chassis=2,port=0x11,bus=pcie.0,addr=0x3
              -device virtio-vga,id=video0 -device qemu-xhci,id=usb
              -device ich9-intel-hda,id=sound0 -device hda-duplex,audiodev=snd0
              -device virtio-blk-pci,drive=disk0,id=virtio-disk0,bus=pci.1
              -device virtio-net-pci,netdev=net0,id=net0,bus=pci.2"
        ;;
    esac
}

# The -device ids, sorted as qom-list gives them
pc_ids="balloon0 ga0 input0 net0 net1 sound0 usb vgpu0 video0 virtio-disk0 virtio-serial0 watchdog0"
q35_ids="balloon0 ga0 input0 net0 net1 pci.1 pci.2 sound0 usb vgpu0 video0 virtio-disk0 virtio-serial0 watchdog0"

for machine in $machines; do
    d=$tmp/$machine
    ids=${machine}_ids
    ids=${!ids}
    mkdir -p "$d"
    qemu-img create -q -f qcow2 "$d/disk.qcow2" 64M
    start_qemu "vm-$machine" $(accel_args) -machine "$machine" -m 256 -nodefaults -S \
        -display none -no-reboot -uuid 2f0a5b5e-1c5a-4e0b-9f1e-6a6b4d1c2e3f \
        -qmp "unix:$d/qmp.sock,server=on,wait=off" \
        -vnc "unix:$d/vnc.sock" -audiodev none,id=snd0 \
        -chardev "file,id=serial0,path=$d/serial.log" -device isa-serial,chardev=serial0 \
        -blockdev "driver=file,filename=$d/disk.qcow2,node-name=file0" \
        -blockdev driver=qcow2,file=file0,node-name=disk0 \
        -netdev "stream,id=net0,server=on,addr.type=unix,addr.path=$d/net.sock" \
        -netdev user,id=net1 -device e1000,netdev=net1,id=net1 \
        $(machine_devices "$machine") \
        -device usb-tablet,id=input0,bus=usb.0 \
        -device virtio-serial-pci,id=virtio-serial0 \
        -chardev "socket,id=ga,path=$d/ga.sock,server=on,wait=off" \
        -device virtserialport,chardev=ga,id=ga0,name=org.qemu.guest_agent.0 \
        -device virtio-balloon-pci,id=balloon0 \
        -object rng-random,id=rng0,filename=/dev/urandom -device virtio-rng-pci,rng=rng0 \
        -device i6300esb,id=watchdog0 -device pvpanic \
        -kernel "$GUEST_IMAGE/vmlinuz" -initrd "$tmp/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 quiet" \
        -device vgpu-stub,id=vgpu0,addr=0x1e

    vgpu_wait_until 30 test -S "$d/qmp.sock"
    devices=$(peripherals "$d/qmp.sock")
    ok $? "$machine: QEMU starts the domain (QMP answers)"
    is "$devices" "$(echo $ids)" "$machine: every device of the domain is there"
    if [ "$devices" != "$(echo $ids)" ]; then
        diag "QEMU:" "$(cat "$tmp/vm-$machine.log")"
    fi
    pci=$(pci_devices "$d/qmp.sock")
    like "$pci" "^${vendor#0x}:${device#0x} vgpu0$" "$machine: vgpu-stub is on the PCI bus with its ids"
    mice=$(qmp "$d/qmp.sock" '{"execute": "query-mice"}')
    like "$mice" "QEMU HID Tablet" "$machine: the USB tablet is a pointer"
    port=$(qmp "$d/qmp.sock" \
        '{"execute": "qom-get", "arguments": {"path": "/machine/peripheral/ga0", "property": "name"}}')
    like "$port" "org.qemu.guest_agent.0" "$machine: the guest agent channel exists"
    banner=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
print(s.recv(12).decode())' "$d/vnc.sock" 2>&1)
    like "$banner" "^RFB 003\.008" "$machine: VNC answers on its Unix socket"

    qmp "$d/qmp.sock" '{"execute": "cont"}' >/dev/null
    vgpu_wait_pid "$BOOT_LIMIT" "$qemu_pid"
    status=$?
    out=$(sed -n '/^==== vgpu-test begin/,/^==== vgpu-test end/p' "$d/serial.log" | tr -d '\r')
    is "$status" 0 "$machine: the guest boots on the serial console and powers off"
    like "$(echo "$out" | tr '\n' ' ')" \
        "pci ${vendor#0x}:${device#0x}.*PROTOCOL_VER=$protocol" \
        "$machine: the guest sees vgpu-stub and reads PROTOCOL_VER"
    # virtio 1af4: net 1000/1041, blk 1001/1042, balloon 1002/1045,
    # serial 1003/1043, rng 1005/1044 (transitional on pc, modern behind PCIe ports)
    seen=$(echo "$out" | grep -cE '^pci 1af4:(100[01235]|104[12345])$')
    is "$seen" 5 "$machine: the guest sees the virtio disk, NIC, balloon, serial and rng"
    if [ "$status" != 0 ]; then
        diag "serial console:" "$(tail -n 30 "$d/serial.log")" "QEMU:" "$(cat "$tmp/vm-$machine.log")"
    fi
done
