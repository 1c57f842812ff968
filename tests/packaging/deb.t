#!/bin/bash
# make deb builds the four Debian packages lintian-clean; dpkg installs them
# on this machine: the vgpu user and group and /run/vgpu appear, the
# installed daemon, vgpuctl, QEMU (with the device) and vgpu-client run, the
# Grafana dashboard is in place, a program builds against libvgpu-dev;
# dpkg --purge removes every file.
. "$(dirname "$0")/../lib/tap.sh"

plan 17

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/packages
tmp=$(mktemp -d)
version=$(make -s -C "$top" --no-print-directory version)
arch=$(dpkg --print-architecture)
pkgs="vgpu libvgpu0 libvgpu-dev vgpu-guest-tools"
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    dpkg --purge $pkgs >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT

"$top/scripts/build-packages.sh" deb >"$tmp/build.log" 2>&1
ok $? "make deb builds" || diag "$(tail -n 20 "$tmp/build.log")"
debs=$(for p in $pkgs; do echo "$out/${p}_${version}-1_${arch}.deb"; done)
missing=$(for d in $debs; do [ -f "$d" ] || echo "$d"; done)
is "$missing" "" "vgpu, libvgpu0, libvgpu-dev and vgpu-guest-tools are built"
is "$(grep -E '^[EW]: ' "$out/lintian.txt")" "" "lintian finds no errors or warnings"

installed=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' $pkgs 2>/dev/null | grep '^installed')
[ -z "$installed" ] || { trap - EXIT; rm -rf "$tmp"
    bail "packages already installed here, which this test would purge: $installed"; }
dpkg -i $debs >"$tmp/install.log" 2>&1
ok $? "dpkg -i installs them" || diag "$(tail -n 20 "$tmp/install.log")"
is "$(getent passwd vgpu | cut -d: -f1) $(getent group vgpu | cut -d: -f1)" "vgpu vgpu" \
    "the postinst created user and group vgpu (systemd-sysusers)"
is "$(stat -c '%U:%G %a' /run/vgpu 2>&1)" "vgpu:vgpu 755" "and /run/vgpu (systemd-tmpfiles)"
is "$(/usr/sbin/vgpu-mediatord --version)" "vgpu-mediatord $version" "the installed daemon runs"

# The installed daemon with the installed config, in a private runtime dir.
sed "s|^runtime-dir=.*|runtime-dir=$tmp/run|" /etc/vgpu/mediator.conf > "$tmp/mediator.conf"
/usr/sbin/vgpu-mediatord --config "$tmp/mediator.conf" --foreground 2>"$tmp/daemon.log" &
daemon=$!
for _ in $(seq 100); do vgpuctl --runtime-dir "$tmp/run" ping >/dev/null 2>&1 && break; sleep 0.1; done
like "$(vgpuctl --runtime-dir "$tmp/run" ping 2>&1)" "$version" \
    "vgpuctl reaches the installed daemon on the default config's pools"
kill "$daemon"; wait "$daemon"; daemon=

qemu=/usr/libexec/vgpu/qemu/bin/qemu-system-x86_64
like "$("$qemu" -device vgpu-stub,help 2>&1)" "chardev=" "the installed QEMU has the vgpu-stub device"
like "$(runuser -u libvirt-qemu -- "$qemu" -version 2>&1)" "QEMU emulator version" \
    "libvirt's qemu user can run it"
python3 -m json.tool /usr/share/vgpu/grafana/vgpu-dashboard.json > /dev/null 2>&1
ok $? "the Grafana dashboard is installed as /usr/share/vgpu/grafana/vgpu-dashboard.json"
like "$(vgpu-client --version 2>&1)" "$version" "vgpu-client runs from vgpu-guest-tools"
is "$(pkg-config --modversion vgpu)" "$version" "pkg-config knows libvgpu"
cat > "$tmp/use.c" <<'C'
#include <stdio.h>
#include <vgpu.h>
int main(void) { printf("%s\n", vgpu_result_name(VGPU_RESULT_NO_DEVICE)); return 0; }
C
cc -std=c11 -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs vgpu) 2>"$tmp/cc.log"
is "$("$tmp/use" 2>&1)" "NO_DEVICE" "a program builds and runs against libvgpu-dev" ||
    diag "$(cat "$tmp/cc.log")"
is "$(id -nG libvirt-qemu 2>/dev/null | tr ' ' '\n' | grep -x vgpu)" "vgpu" \
    "the postinst put libvirt-qemu in group vgpu"

listed=$(dpkg -L $pkgs | sort -u)
dpkg --purge $pkgs >"$tmp/purge.log" 2>&1
ok $? "dpkg --purge removes them" || diag "$(tail -n 20 "$tmp/purge.log")"
left=$(echo "$listed" | while read -r f; do
    if [ -f "$f" ] || { [ -L "$f" ] && [ ! -d "$f" ]; }; then echo "$f"; fi; done)
is "$left" "" "no file of theirs is left"
