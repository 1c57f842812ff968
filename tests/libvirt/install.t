#!/bin/bash
# make install-libvirt-hooks installs what a host package ships: the hook in
# LIBEXECDIR, libvirtd's qemu.d entry as a symlink to its final path (not
# into DESTDIR), and its man page; with install-vgpuctl, vgpuctl-attach(8)
# (vgpuctl's side of libvirt); installing twice changes nothing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
unset MAKEFLAGS MFLAGS MAKELEVEL

plan 9

# An admin's own hook, which the install must leave alone.
mkdir -p "$dest/etc/libvirt/hooks"
printf '#!/bin/sh\necho admin\n' > "$dest/etc/libvirt/hooks/qemu"

make -s -C "$top" install-libvirt-hooks install-vgpuctl DESTDIR="$dest" PREFIX=/usr \
    >"$tmp/make.log" 2>&1
ok $? "make install-libvirt-hooks install-vgpuctl succeeds" || sed 's/^/# /' "$tmp/make.log"

missing=
for f in usr/libexec/vgpu/vgpu-libvirt-hook usr/share/man/man8/vgpu-libvirt-hook.8 \
         usr/share/man/man8/vgpuctl-attach.8; do
    [ -e "$dest/$f" ] || missing="$missing $f"
done
is "$missing" "" "the hook and its man pages are installed"
is "$(stat -c %a "$dest/usr/libexec/vgpu/vgpu-libvirt-hook")" 755 "the hook is executable"
is "$(readlink "$dest/etc/libvirt/hooks/qemu.d/vgpu")" /usr/libexec/vgpu/vgpu-libvirt-hook \
    "/etc/libvirt/hooks/qemu.d/vgpu points at the installed hook"
is "$(cat "$dest/etc/libvirt/hooks/qemu")" "$(printf '#!/bin/sh\necho admin')" \
    "the admin's /etc/libvirt/hooks/qemu is left as it was"
"$dest/usr/libexec/vgpu/vgpu-libvirt-hook" --help | grep -q 'urn:vgpu-stub:libvirt:1'
ok $? "the installed hook runs"
for page in vgpu-libvirt-hook vgpuctl-attach; do
    man -l "$dest/usr/share/man/man8/$page.8" 2>"$tmp/man.err" | grep -q 'SEE ALSO' &&
        [ ! -s "$tmp/man.err" ]
    ok $? "man page $page(8) renders without warnings" || sed 's/^/# /' "$tmp/man.err"
done

make -s -C "$top" install-libvirt-hooks DESTDIR="$dest" PREFIX=/usr >"$tmp/make.log" 2>&1 &&
    [ "$(readlink "$dest/etc/libvirt/hooks/qemu.d/vgpu")" = /usr/libexec/vgpu/vgpu-libvirt-hook ]
ok $? "installing again succeeds and leaves the same link" || sed 's/^/# /' "$tmp/make.log"
