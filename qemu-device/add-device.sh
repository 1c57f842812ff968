#!/bin/bash
# Add the vgpu-stub device to an extracted QEMU source tree.
#
#   qemu-device/add-device.sh QEMU_SOURCE_DIR
#
# Copies the device (hw/misc/vgpu-stub.c), the shared codec (as
# hw/misc/vgpu-codec.c), the contract headers (include/vgpu/) and the
# device's trace events in, and appends a Kconfig entry, the meson line and
# the device set qemu-device/devices.mak (configure with
# --with-devices-x86_64=vgpu).  Appending rather than patching keeps it
# working across QEMU releases.  Run it once per fresh tree.
#
# vgpu.spec uses it on QEMU's release tarball.  qemu-device/build-qemu.sh
# does the same steps on Debian's source package; it keeps its own copy
# because its hash keys every cached QEMU build, so changing it costs every
# machine a rebuild; the two are to be merged with the next change that
# rebuilds QEMU anyway.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=${1:?usage: $0 QEMU_SOURCE_DIR}
[ -f "$src/hw/misc/meson.build" ] || { echo "add-device: $src is not a QEMU source tree" >&2; exit 1; }
grep -q '^config VGPU_STUB' "$src/hw/misc/Kconfig" &&
    { echo "add-device: $src has the device already" >&2; exit 1; }

mkdir -p "$src/include/vgpu"
cp "$top/qemu-device/vgpu-stub.c" "$src/hw/misc/vgpu-stub.c"
cp "$top/common/codec.c" "$src/hw/misc/vgpu-codec.c"
cp "$top"/include/vgpu/*.h "$src/include/vgpu/"
cat "$top/qemu-device/trace-events" >>"$src/hw/misc/trace-events"
cat >>"$src/hw/misc/Kconfig" <<'KCONFIG'

config VGPU_STUB
    bool
    depends on PCI && MSI_NONBROKEN
KCONFIG
# The source set is softmmu_ss up to QEMU 8.0 and system_ss after it.
ss=softmmu_ss
grep -q '^system_ss' "$src/hw/misc/meson.build" && ss=system_ss
echo "$ss.add(when: 'CONFIG_VGPU_STUB', if_true: files('vgpu-stub.c', 'vgpu-codec.c'))" \
    >>"$src/hw/misc/meson.build"
cp "$top/qemu-device/devices.mak" "$src/configs/devices/x86_64-softmmu/vgpu.mak"
