#!/bin/bash
# make install-guest-tools installs what a guest package ships, and it is
# usable: a program builds against the installed header, pkg-config file and
# library (shared and static) and runs, also with the data window's API;
# the man pages render; the shared library exports exactly the API of
# vgpu.h; the udev rules carry the PCI ids of include/vgpu/regs.h, give the
# group the window too and bind the device to uio_pci_generic;
# vgpu-client-static needs no shared library.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
unset MAKEFLAGS MFLAGS MAKELEVEL
version=$(make -s -C "$top" --no-print-directory version)

plan 16

make -s -C "$top" install-guest-tools DESTDIR="$dest" PREFIX=/usr >"$tmp/make.log" 2>&1
ok $? "make install-guest-tools succeeds" || sed 's/^/# /' "$tmp/make.log"

missing=
for f in usr/bin/vgpu-client usr/lib/libvgpu.a usr/lib/libvgpu.so.$version usr/lib/libvgpu.so.0 \
         usr/lib/libvgpu.so usr/lib/pkgconfig/vgpu.pc usr/include/vgpu.h \
         usr/include/vgpu/errors.h usr/include/vgpu/protocol.h usr/include/vgpu/regs.h \
         usr/include/vgpu/ops.h usr/include/vgpu/codec.h usr/include/vgpu/wire.h \
         usr/share/man/man3/vgpu_device_run_op.3 usr/share/man/man3/vgpu_device_window.3 \
         usr/share/man/man1/vgpu-client.1 usr/share/man/man3/libvgpu.3 \
         usr/share/man/man3/vgpu_device_open.3 usr/share/man/man3/vgpu_last_error.3 \
         lib/udev/rules.d/60-vgpu.rules usr/lib/sysusers.d/vgpu-guest.conf; do
    [ -e "$dest/$f" ] || missing="$missing $f"
done
is "$missing" "" "every file is installed"

is "$(readlink "$dest/usr/lib/libvgpu.so.0")" "libvgpu.so.$version" "libvgpu.so.0 links to the library"
soname=$(readelf -d "$dest/usr/lib/libvgpu.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
is "$soname" "libvgpu.so.0" "the shared library's soname is libvgpu.so.0"

# Exported: exactly the functions vgpu.h declares.
exported=$(nm -D --defined-only "$dest/usr/lib/libvgpu.so.$version" | awk '$2 == "T" {print $3}' |
           sed 's/@.*//' | sort | tr '\n' ' ')
declared=$(grep -oE '\bvgpu_[a-z_]+\(' "$dest/usr/include/vgpu.h" | tr -d '(' | sort -u | tr '\n' ' ')
is "$exported" "$declared" "libvgpu.so exports exactly the API of vgpu.h"

export PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
is "$(pkg-config --cflags --libs vgpu | sed "s/ *$//")" "-I$dest/usr/include -L$dest/usr/lib -lvgpu" \
   "pkg-config gives the installed paths"

cat > "$tmp/example.c" <<'C'
#include <stdio.h>
#include <vgpu.h>

int main(void)
{
    vgpu_device *dev;
    enum vgpu_result r = vgpu_device_open(NULL, &dev);

    if (r != VGPU_RESULT_OK) {
        printf("%s: %s\n", vgpu_result_name(r), vgpu_last_error());
        return 1;
    }
    struct vgpu_window_op op = { .opcode = VGPU_OP_SUM_F32, .count = 1 };
    double sum;
    r = vgpu_device_run_op(dev, &op, &sum, NULL, NULL);
    vgpu_device_close(dev);
    return r != VGPU_RESULT_OK;
}
C
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/example" "$tmp/example.c" \
   $(pkg-config --cflags --libs vgpu) 2>"$tmp/cc.log"
ok $? "a C11 program builds against the installed header and shared library" ||
    sed 's/^/# /' "$tmp/cc.log"
cc -std=c11 -Wall -Wextra -Werror -static -o "$tmp/example-static" "$tmp/example.c" \
   $(pkg-config --static --cflags --libs vgpu) 2>"$tmp/cc-static.log"
ok $? "and statically against libvgpu.a" || sed 's/^/# /' "$tmp/cc-static.log"

mkdir -p "$tmp/root/sys/bus/pci/devices"
out=$(VGPU_TEST_ROOT=$tmp/root LD_LIBRARY_PATH=$dest/usr/lib "$tmp/example")
like "$out" "^NO_DEVICE: no vgpu-stub device" "the program runs on the installed library"
out=$(VGPU_TEST_ROOT=$tmp/root LD_LIBRARY_PATH=$dest/usr/lib "$dest/usr/bin/vgpu-client" info 2>&1)
like "$out" "no vgpu-stub device" "the installed vgpu-client runs"

warnings=$(for page in man1/vgpu-client.1 man3/libvgpu.3; do
               groff -man -Tutf8 -ww -z "$dest/usr/share/man/$page" 2>&1
           done)
is "$warnings" "" "the man pages render without warnings"

vendor=$(sed -n 's/^#define VGPU_PCI_VENDOR_ID *0x\([0-9a-fA-F]*\).*/\1/p' "$top/include/vgpu/regs.h")
device=$(sed -n 's/^#define VGPU_PCI_DEVICE_ID *0x\([0-9a-fA-F]*\).*/\1/p' "$top/include/vgpu/regs.h")
rules=$dest/lib/udev/rules.d/60-vgpu.rules
is "$(grep -c "ATTR{vendor}==\"0x$vendor\", ATTR{device}==\"0x$device\"" "$rules")" 2 \
   "the udev rules (permissions, uio binding) match the PCI ids of regs.h"
like "$(tr -d '\\\n' < "$rules")" \
     'chgrp vgpu /sys%p/resource0 /sys%p/config".*chmod 0660 /sys%p/resource0 /sys%p/config".*SUBSYSTEM=="uio".*GROUP="vgpu", MODE="0660"' \
     "it gives group vgpu resource0, config and the uio node"
like "$(tr -d '\\\n' < "$rules")" \
     "chgrp vgpu /sys%p/resource2 && chmod 0660 /sys%p/resource2" \
     "and resource2, the data window, where there is one"

like "$(tr -d '\\\n' < "$rules")" \
     'ATTR\{driver_override\}="uio_pci_generic", *RUN\{builtin\}\+="kmod load uio_pci_generic", *RUN\+="/bin/sh -c .echo %k > /sys/bus/pci/drivers_probe' \
     "and binds the device to uio_pci_generic (driver_override, the module, a probe)"

readelf -l "$top/build/guest-tools/vgpu-client-static" | grep -q INTERP
ok $((!$?)) "vgpu-client-static has no program interpreter (fully static)"
