#!/bin/bash
# make rpm builds the source and binary RPMs on Debian (rpmbuild with the
# Debian macros file); rpmlint finds no error but the missing signature, and
# each package holds the files it should.
. "$(dirname "$0")/../lib/tap.sh"

plan 6

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/packages
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(make -s -C "$top" --no-print-directory version)

"$top/scripts/build-packages.sh" rpm >"$tmp/build.log" 2>&1
ok $? "make rpm builds" || diag "$(tail -n 20 "$tmp/build.log")"
rpms=$(cd "$out" && ls vgpu-*"$version"-1*.rpm 2>/dev/null | sed -E 's/-'"$version"'-1.*\.(src|x86_64)\.rpm$/ \1/' | sort | tr '\n' ',')
is "$rpms" "vgpu src,vgpu x86_64,vgpu-guest-tools x86_64,vgpu-guest-tools-devel x86_64," \
    "the source RPM and three binary RPMs are built"
is "$(grep -E ': E: ' "$out/rpmlint.txt" | grep -v ': E: no-signature$')" "" \
    "rpmlint finds no error but the missing signature"
host=$(rpm -qlp "$out"/vgpu-"$version"-1*.x86_64.rpm 2>/dev/null)
for f in /usr/sbin/vgpu-mediatord /usr/bin/vgpuctl /usr/libexec/vgpu/qemu/bin/qemu-system-x86_64 \
         /usr/lib/systemd/system/vgpu-mediator.service /etc/vgpu/mediator.conf \
         /usr/share/vgpu/grafana/vgpu-dashboard.json; do
    echo "$host" | grep -qx "$f" || echo "missing $f"
done > "$tmp/host-missing"
is "$(cat "$tmp/host-missing")" "" "vgpu holds the daemon, vgpuctl, QEMU, the unit, the config and the Grafana dashboard"
guest=$(rpm -qlp "$out"/vgpu-guest-tools-"$version"-1*.x86_64.rpm 2>/dev/null)
like "$guest" "/usr/bin/vgpu-client" "vgpu-guest-tools holds vgpu-client"
like "$guest" "/usr/lib64/libvgpu.so.0" "and libvgpu in /usr/lib64"
