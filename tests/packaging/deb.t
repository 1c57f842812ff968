#!/bin/bash
# make deb builds the four Debian packages lintian-clean, sorted by where
# they go (host/, guest/, debug/); apt installs them here with the very
# commands of docs/install.md: the host's command installs vgpu alone, the
# guest's the guest packages.  Installed: the vgpu user and group, /run/vgpu
# and the hook's link appear; the daemon started by root with the installed
# config makes a device socket libvirt's QEMU user can connect to; the
# installed config names the real plugin directory; vgpuctl, QEMU (with the
# device) and vgpu-client run; a program builds against libvgpu-dev.  Purge
# removes every file, /run/vgpu with the registry in it, and leaves only
# what docs/install.md says stays (libvirt's hook directory among it).
#
# Costs: the debs are built once per tree (tests/packaging/lib.sh), the
# rest about 30 s.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 40

top=$PKG_TOP
tmp=$(mktemp -d)
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    pkg_purge
    rm -rf "$tmp"
}

PKG_LOG=$tmp/build.log pkg_debs
ok $? "make deb builds" || diag "$(tail -n 20 "$tmp/build.log")"
v=$PKG_VERSION-1
is "$(cd "$PKG_DEBS/host" && ls)" "vgpu_${v}_$PKG_ARCH.deb" "host/ holds vgpu alone"
is "$(cd "$PKG_DEBS/guest" && ls | tr '\n' ' ')" \
    "libvgpu-dev_${v}_$PKG_ARCH.deb libvgpu0_${v}_$PKG_ARCH.deb vgpu-guest-cuda_${v}_$PKG_ARCH.deb vgpu-guest-tools_${v}_$PKG_ARCH.deb " \
    "guest/ holds libvgpu0, libvgpu-dev, vgpu-guest-cuda and vgpu-guest-tools"
is "$(cd "$PKG_DEBS/debug" && ls | grep -vc -- '-dbgsym_')" 0 "debug/ holds only -dbgsym packages"
is "$(grep -E '^[EW]: ' "$PKG_DEBS/lintian.txt")" "" "lintian finds no errors or warnings"
like "$(dpkg-deb -f "$PKG_DEBS/guest/libvgpu-dev_${v}_$PKG_ARCH.deb" Depends)" '(^|, )pkg-config(,|$)' \
    "libvgpu-dev depends on pkg-config, which its documented build line uses"
vendor=$(sed -n 's/^#define VGPU_PCI_VENDOR_ID *\(0x[0-9a-fA-F]*\).*/\1/p' "$top/include/vgpu/regs.h")
device=$(sed -n 's/^#define VGPU_PCI_DEVICE_ID *\(0x[0-9a-fA-F]*\).*/\1/p' "$top/include/vgpu/regs.h")
dpkg-deb -e "$PKG_DEBS/guest/vgpu-guest-tools_${v}_$PKG_ARCH.deb" "$tmp/guest-control"
like "$(tr -d '\\\n' < "$tmp/guest-control/postinst")" \
    "udevadm trigger --action=add --subsystem-match=pci .*--attr-match=vendor=$vendor --attr-match=device=$device" \
    "vgpu-guest-tools' postinst applies the udev rule to the device (regs.h's ids) at install"

pkg_refuse_installed
trap cleanup EXIT
hooks=/etc/libvirt/hooks/qemu.d
mkdir -p "$tmp/before"
pkg_snapshot "$tmp/before/paths"

# The host: docs/install.md's commands, run from the checkout.
pkg_doc_block "$top/docs/install.md" host-install-apt > "$tmp/host-install.sh"
like "$(cat "$tmp/host-install.sh")" "apt install ./build/packages/deb/host/" \
    "docs/install.md installs the host package from host/"
sed 's/^apt install /pkg_apt install /' "$tmp/host-install.sh" > "$tmp/host-install.run"
(cd "$top" && set -e && . "$tmp/host-install.run") >"$tmp/install.log" 2>&1
ok $? "docs/install.md's host commands install it" || diag "$(tail -n 20 "$tmp/install.log")"
is "$(pkg_installed | tr '\n' ' ')" "vgpu " "and install vgpu alone: no debug or guest package on the host"

is "$(getent passwd vgpu | cut -d: -f1) $(getent group vgpu | cut -d: -f1)" "vgpu vgpu" \
    "the postinst created user and group vgpu (systemd-sysusers)"
is "$(stat -c '%U:%G %a' /run/vgpu 2>&1)" "vgpu:vgpu 755" "and /run/vgpu (systemd-tmpfiles)"
is "$(readlink $hooks/vgpu)" /usr/libexec/vgpu/vgpu-libvirt-hook \
    "and the hook's link in $hooks"
is "$(id -nG libvirt-qemu 2>/dev/null | tr ' ' '\n' | grep -x vgpu)" "vgpu" \
    "the postinst put libvirt-qemu in group vgpu"
is "$(/usr/sbin/vgpu-mediatord --version)" "vgpu-mediatord $PKG_VERSION" "the installed daemon runs"

# Root starts the daemon by hand with the installed config, unchanged: the
# device socket must still be libvirt-qemu's to connect to.
/usr/sbin/vgpu-mediatord --foreground 2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 100); do vgpuctl ping >/dev/null 2>&1 && break; sleep 0.1; done
like "$(vgpuctl ping 2>&1)" "$PKG_VERSION" "vgpuctl reaches the daemon root started with the installed config"
is "$(stat -c '%U:%G %a' /run/vgpu/mediator.sock 2>&1)" "root:vgpu 660" \
    "its device socket belongs to group vgpu (socket-group=vgpu in the installed config)"
setpriv --reuid=libvirt-qemu --regid=libvirt-qemu --init-groups /usr/bin/python3 -c '
import socket; s = socket.socket(socket.AF_UNIX); s.connect("/run/vgpu/mediator.sock")' 2>"$tmp/connect.err"
ok $? "libvirt's QEMU user can connect to it" || diag "$(cat "$tmp/connect.err")"
vgpuctl register 6f1c2b3a-4d5e-4f60-8172-93a4b5c6d7e8 --name t --pool A --priority low --vm-id 1 >/dev/null
ok $? "a VM registers (the registry goes to /run/vgpu/registry.jsonl)"
kill "$daemon"; wait "$daemon"; daemon=

# The plugin directory the installed config names is the daemon's default
# and where the package puts the plugins.
plugin_dir=$(sed -n 's/^#plugin-dir=//p' /etc/vgpu/mediator.conf)
is "$(dpkg -L vgpu | grep -x "$plugin_dir")" "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/vgpu/backends" \
    "the installed config names the plugin directory the package installs"
sed 's/^#plugin-dir=/plugin-dir=/' /etc/vgpu/mediator.conf > "$tmp/plugin-dir.conf"
/usr/sbin/vgpu-mediatord --check-config --config "$tmp/plugin-dir.conf" >"$tmp/check.log" 2>&1
ok $? "uncommenting that line gives a config that checks OK" || diag "$(cat "$tmp/check.log")"
is "$(zcat /usr/share/man/man5/mediator.conf.5.gz /usr/share/man/man8/vgpu-mediatord.8.gz |
      grep -c '/usr/lib/x86_64\\-linux\\-gnu/vgpu/backends')" 2 \
    "mediator.conf(5) and vgpu-mediatord(8) name it"

qemu=/usr/libexec/vgpu/qemu/bin/qemu-system-x86_64
like "$("$qemu" -device vgpu-stub,help 2>&1)" "chardev=" "the installed QEMU has the vgpu-stub device"
like "$(runuser -u libvirt-qemu -- "$qemu" -version 2>&1)" "QEMU emulator version" \
    "libvirt's qemu user can run it"
/usr/bin/python3 -m json.tool /usr/share/vgpu/grafana/vgpu-dashboard.json > /dev/null 2>&1
ok $? "the Grafana dashboard is installed as /usr/share/vgpu/grafana/vgpu-dashboard.json"

# The guest packages, installed the way docs/install.md tells a guest's
# admin: from the files, in the directory they were copied to.
mkdir -p "$tmp/guest"
cp "$PKG_DEBS"/guest/*.deb "$tmp/guest/"
pkg_doc_block "$top/docs/install.md" guest-install-apt > "$tmp/guest-install.sh"
sed 's/^apt install /pkg_apt install /' "$tmp/guest-install.sh" > "$tmp/guest-install.run"
(cd "$tmp/guest" && set -e && . "$tmp/guest-install.run") >"$tmp/guest.log" 2>&1
ok $? "docs/install.md's guest command installs libvgpu0 and vgpu-guest-tools from files" ||
    diag "$(tail -n 20 "$tmp/guest.log")"
like "$(vgpu-client --version 2>&1)" "$PKG_VERSION" "vgpu-client runs"
(cd "$tmp/guest" && pkg_apt install ./libvgpu-dev_*.deb) >"$tmp/dev.log" 2>&1
ok $? "libvgpu-dev installs beside them" || diag "$(tail -n 20 "$tmp/dev.log")"
is "$(pkg-config --modversion vgpu)" "$PKG_VERSION" "pkg-config knows libvgpu"
cat > "$tmp/use.c" <<'C'
#include <stdio.h>
#include <vgpu.h>
int main(void) { printf("%s\n", vgpu_result_name(VGPU_RESULT_NO_DEVICE)); return 0; }
C
cc -std=c11 -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs vgpu) 2>"$tmp/cc.log"
is "$("$tmp/use" 2>&1)" "NO_DEVICE" "a program builds and runs against libvgpu-dev" ||
    diag "$(cat "$tmp/cc.log")"

# The guest's CUDA runtime: where the loader finds it for every program,
# as docs/install.md and docs/cuda.md say; a CUDA program built here with
# `nvcc -cudart shared` loads it and, with no vgpu-stub device on this
# host, says so and fails.
pkg_doc_block "$top/docs/install.md" guest-install-cuda > "$tmp/cuda-install.sh"
sed 's/^apt install /pkg_apt install /' "$tmp/cuda-install.sh" > "$tmp/cuda-install.run"
(cd "$tmp/guest" && set -e && . "$tmp/cuda-install.run") >"$tmp/cuda.log" 2>&1
ok $? "docs/install.md's command installs vgpu-guest-cuda" || diag "$(tail -n 20 "$tmp/cuda.log")"
like "$(ldconfig -p | grep 'libcudart.so.13 ' | head -n 1)" \
    "=> (/usr)?/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libcudart.so.13$" \
    "the loader's cache has its libcudart.so.13 first"
out=$(env -u LD_LIBRARY_PATH "$top/build/tests/cuda/vector-add" 1024 2>&1)
like "$out" "libcudart \(vgpu-stub\): cudaGetDeviceCount: no CUDA device" \
    "an unchanged CUDA program loads it: no vgpu-stub device here, and it says so"

listed=$(dpkg -L $(pkg_installed) | sort -u)
pkg_apt purge $(pkg_installed) >"$tmp/purge.log" 2>&1
ok $? "apt purge removes them" || diag "$(tail -n 20 "$tmp/purge.log")"
left=$(echo "$listed" | while read -r f; do
    if [ -f "$f" ] || { [ -L "$f" ] && [ ! -d "$f" ]; }; then echo "$f"; fi; done)
is "$left" "" "no file of theirs is left"
is "$(ls -d /run/vgpu /etc/vgpu $hooks/vgpu 2>&1 | grep -v 'No such file')" "" \
    "nor /run/vgpu with the registry, /etc/vgpu, the hook's link"
[ -d $hooks ]
ok $? "libvirt's $hooks stays"

# What is left is what docs/install.md says purge leaves, nothing else.
pkg_doc_block "$top/docs/install.md" purge-leaves > "$tmp/leaves.md"
allowed=$(grep -o '`/[^`]*`' "$tmp/leaves.md" | tr -d '`')
pkg_snapshot "$tmp/after"
extra=$(comm -13 "$tmp/before/paths" "$tmp/after" | grep -vxF "$allowed")
is "$extra" "" "purge leaves no path that docs/install.md does not list"
like "$(cat "$tmp/leaves.md")" 'user `vgpu` and group `vgpu`' "docs/install.md lists user and group vgpu"
is "$(getent passwd vgpu | cut -d: -f1) $(getent group vgpu | cut -d: -f1)" "vgpu vgpu" \
    "which stay, as it says"
