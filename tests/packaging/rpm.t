#!/bin/bash
# make rpm builds the source and binary RPMs on Debian (rpmbuild with the
# Debian macros file) from the spec's declared sources alone: the project's
# tarball and QEMU's release tarball (Source1, from Debian's archive), to
# which %prep adds the device; no apt-get, no cached QEMU.  The QEMU in the
# RPM has the device; BuildRequires and Requires use Fedora's package names;
# rpmlint finds no error but the missing signature; each package holds the
# files it should.
#
# Costs: a machine's first build compiles QEMU (about 5.5 min on 2 cores,
# 322 s measured); later ones, from any clone, take it from ccache (82 s:
# scripts/build-packages.sh builds the RPM in one place per machine); an
# unchanged tree reuses the RPMs.
. "$(dirname "$0")/../lib/tap.sh"

plan 18

top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/packages/rpm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(make -s -C "$top" --no-print-directory version)

"$top/scripts/build-packages.sh" rpm >"$tmp/build.log" 2>&1
ok $? "make rpm builds" || diag "$(tail -n 20 "$tmp/build.log")"
listing=$( (cd "$out" && ls source host guest) 2>&1 | tr '\n' ' ')
like "$listing" "^guest: vgpu-guest-tools-$version-1[^ ]*\.x86_64\.rpm vgpu-guest-tools-devel-$version-1[^ ]*\.x86_64\.rpm vgpu-guest-tools-libs-$version-1[^ ]*\.x86_64\.rpm  host: vgpu-$version-1[^ ]*\.x86_64\.rpm  source: vgpu-$version-1[^ ]*\.src\.rpm $" \
    "the source RPM and four binary RPMs are built, sorted into source/, host/ and guest/"
is "$(grep -E ': [EW]: ' "$out/rpmlint.txt" | grep -E ': E: ')" "" \
    "rpmlint (the source and binary RPMs and the spec, packaging/rpm/vgpu.rpmlintrc's filters) finds no error"

srpm=$(ls "$out"/source/*.src.rpm 2>/dev/null)
is "$(rpm -qlp "$srpm" 2>/dev/null | sort | tr '\n' ' ')" \
    "qemu_7.2+dfsg.orig.tar.xz vgpu-$version.tar.gz vgpu.spec " \
    "the source RPM holds the two declared sources and the spec"
build_section=$(sed -n '/^%prep/,/^%install/p' "$top/vgpu.spec" | grep -v '^ *#')
like "$build_section" "add-device.sh qemu-7.2.0" "%prep adds the device to QEMU's release tree"
is "$(grep -E 'apt-get|build-qemu|make[^ ]* .*qemu( |$)' <<<"$build_section")" "" \
    "%prep and %build neither fetch nor reuse QEMU: no apt-get, no build-qemu.sh, no make qemu"
is "$(grep -cE 'apt-get|build-qemu.sh' "$out/rpm-build.log")" 0 "and the build log shows none of them"
like "$(grep -E '^(\+ )?qemu-device/add-device.sh' "$out/rpm-build.log")" "add-device.sh qemu-7.2.0" \
    "the device is added to QEMU's release tree from the project's sources"

# Fedora's names: no Debian-style -dev package, the ones Fedora has.
breq=$(rpm -qp --requires "$srpm" 2>/dev/null | sort)
is "$(grep -E -- '-dev$|^pkg-config$|^ninja$' <<<"$breq")" "" \
    "BuildRequires has no Debian package name"
missing=$(for p in glib2-devel json-glib-devel systemd-devel libxml2-devel libvirt-devel openblas-devel \
                   libsoup3-devel ncurses-devel pixman-devel libslirp-devel libseccomp-devel zlib-devel \
                   libfdt-devel meson ninja-build; do grep -qx "$p" <<<"$breq" || echo "$p"; done)
is "$missing" "" "BuildRequires names Fedora's -devel packages for the project and QEMU"
host_rpm=$(ls "$out"/host/*.rpm 2>/dev/null)
is "$(rpm -qp --requires "$host_rpm" 2>/dev/null | grep -E '^(seabios-bin|ipxe-roms-qemu|qemu-system-x86-core)$' | sort | tr '\n' ' ')" \
    "ipxe-roms-qemu qemu-system-x86-core seabios-bin " "vgpu requires QEMU's firmware by Fedora's names"

host=$(rpm -qlp "$host_rpm" 2>/dev/null)
for f in /usr/sbin/vgpu-mediatord /usr/bin/vgpuctl /usr/libexec/vgpu/qemu/bin/qemu-system-x86_64 \
         /usr/lib/systemd/system/vgpu-mediator.service /etc/vgpu/mediator.conf \
         /usr/libexec/vgpu/vgpu-libvirt-hook /usr/share/vgpu/grafana/vgpu-dashboard.json; do
    echo "$host" | grep -qx "$f" || echo "missing $f"
done > "$tmp/host-missing"
is "$(cat "$tmp/host-missing")" "" "vgpu holds the daemon, vgpuctl, QEMU, the hook, the unit, the config and the Grafana dashboard"

mkdir -p "$tmp/root"
(cd "$tmp/root" && rpm2cpio "$host_rpm" | cpio -idm --quiet) 2>"$tmp/cpio.log"
like "$("$tmp/root/usr/libexec/vgpu/qemu/bin/qemu-system-x86_64" -device vgpu-stub,help 2>&1)" "chardev=" \
    "the QEMU in the RPM has the vgpu-stub device"
is "$(sed -n 's/^socket-group=//p; s/^#plugin-dir=//p' "$tmp/root/etc/vgpu/mediator.conf" | tr '\n' ' ')" \
    "/usr/lib64/vgpu/backends vgpu " "its mediator.conf names /usr/lib64/vgpu/backends and sets socket-group=vgpu"

guest=$(rpm -qlp "$out"/guest/vgpu-guest-tools-"$version"-1*.x86_64.rpm 2>/dev/null)
like "$guest" "/usr/bin/vgpu-client" "vgpu-guest-tools holds vgpu-client"
like "$(rpm -qlp "$out"/guest/vgpu-guest-tools-libs-"$version"-1*.x86_64.rpm 2>/dev/null)" \
    "/usr/lib64/libvgpu.so.0" "vgpu-guest-tools-libs holds libvgpu, in /usr/lib64"
like "$(rpm -qp --scripts "$out"/guest/vgpu-guest-tools-"$version"-1*.x86_64.rpm 2>/dev/null | tr -d '\\\n')" \
    "udevadm trigger --action=add --subsystem-match=pci .*--attr-match=device=0x5647" \
    "and applies its udev rule at install"
is "$(rpm -qp --requires "$out"/guest/vgpu-guest-tools-devel-*.rpm 2>/dev/null | grep -x pkgconf-pkg-config)" \
    "pkgconf-pkg-config" "vgpu-guest-tools-devel requires pkg-config (pkgconf-pkg-config)"
