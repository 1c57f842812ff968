#!/bin/bash
# A Debian 12 guest with udev, for tests of what the guest packages do on a
# real system: debootstrap's minbase (apt, dpkg, login, passwd) with udev,
# kmod and systemd-standalone-sysusers, the guest kernel's uio modules, and
# an /init that starts udev the way Debian's boot does, runs a test script
# and powers off.  The busybox guest image (scripts/guest-image.sh) has no
# udev; this one is ten times its size and boots in about 15 s under TCG.
#
#   scripts/guest-rootfs.sh build --image DIR --out DIR
#       --image DIR  the guest image (scripts/guest-image.sh build --out DIR):
#                    its key names the kernel, its initramfs has the modules
#       Build (or reuse) the root file system and link into --out:
#         DIR/rootfs.cpio  the root file system as an uncompressed newc
#                          archive, to boot as the initramfs (-initrd) with
#                          the image's kernel; uncompressed because the
#                          kernel then only copies it (gunzip under TCG
#                          would take longer than the boot)
#         DIR/key          what it was built from
#
# What /init does: mounts /proc, /sys, /dev, /dev/pts, /run and /tmp; starts
# systemd-udevd and replays the coldplug events (udevadm trigger, settle),
# as Debian's boot does; runs /vgpu-test.sh, which a layer appended to the
# archive provides (scripts/guest-image.sh pack), with its output on the
# console between the markers guest-image.sh uses:
#         ==== vgpu-test begin ====
#         ==== vgpu-test end: status N ====
# and powers the VM off (sysrq).  Boot with console=ttyS0.
#
# Cached in ${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/guest-rootfs/KEY/,
# keyed by the kernel and this script.  The first build runs debootstrap
# against Debian's archive (about a minute); later ones take a second.
# Needs root and debootstrap.
set -euo pipefail

prog=guest-rootfs
MIRROR=${VGPU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
INCLUDE=udev,kmod,systemd-standalone-sysusers
KEEP=2

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

write_init() {
    cat >"$1" <<'INIT'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
hostname guest
# udev as Debian's boot starts it (systemd-udevd.service, or sysvinit's
# /etc/init.d/udev): the daemon, then the coldplug events.
/lib/systemd/systemd-udevd --daemon
udevadm trigger --type=subsystems --action=add
udevadm trigger --type=devices --action=add
udevadm settle --timeout=60
echo '==== vgpu-test begin ===='
if [ -x /vgpu-test.sh ]; then
    /vgpu-test.sh
    status=$?
else
    echo "no /vgpu-test.sh in the initramfs"
    status=missing
fi
echo "==== vgpu-test end: status $status ===="
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
sleep 60
INIT
    chmod 755 "$1"
}

build() {
    local image=$1 out=$2 kernel key cache dir tmp root
    [ "$(id -u)" = 0 ] || die "needs root (debootstrap)"
    command -v debootstrap >/dev/null || die "no debootstrap: make deps"
    [ -f "$image/key" ] && [ -f "$image/initramfs.cpio.gz" ] ||
        die "no guest image in $image: make guest-image"
    kernel=$(sed -n 's/^kernel linux-image-\([^ ]*\) .*/\1/p' "$image/key")
    [ -n "$kernel" ] || die "$image/key names no kernel"
    key=$(printf '%s\n' "kernel $kernel" "suite $SUITE" "include $INCLUDE" "$(sha256sum <"$0")" |
          sha256sum | cut -c1-16)
    cache=${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/guest-rootfs
    dir=$cache/$key
    mkdir -p "$cache" "$out"
    if [ ! -e "$dir/done" ]; then
        exec 9>"$cache/lock"
        flock 9
    fi
    if [ ! -e "$dir/done" ]; then
        say "building a Debian $SUITE root file system with udev (debootstrap; a few minutes, once)"
        tmp=$dir.tmp
        rm -rf "$tmp" && mkdir -p "$tmp"
        root=$tmp/root
        debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR" \
            >"$tmp/debootstrap.log" 2>&1 ||
            { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed, see $tmp/debootstrap.log"; }
        # What a test does not need: documentation, locales, apt's caches.
        rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
               "$root"/usr/share/locale/* "$root"/var/cache/apt/archives/*.deb \
               "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
        # The guest kernel's uio modules, where modprobe finds them.
        mkdir -p "$tmp/mods" "$root/lib/modules/$kernel/kernel/drivers/uio"
        (cd "$tmp/mods" && zcat "$image/initramfs.cpio.gz" | cpio -id --quiet 'lib/modules/vgpu/*.ko')
        cp "$tmp"/mods/lib/modules/vgpu/*.ko "$root/lib/modules/$kernel/kernel/drivers/uio/"
        touch "$root/lib/modules/$kernel/modules.order" "$root/lib/modules/$kernel/modules.builtin" \
              "$root/lib/modules/$kernel/modules.builtin.modinfo"
        depmod -b "$root" "$kernel"
        write_init "$root/init"
        [ -c "$root/dev/console" ] || mknod -m 600 "$root/dev/console" c 5 1
        (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc) >"$tmp/rootfs.cpio"
        printf '%s\n' "key $key" "kernel $kernel" "suite $SUITE" "include $INCLUDE" >"$tmp/key"
        rm -rf "$root" "$tmp/mods"
        touch "$tmp/done"
        rm -rf "$dir" && mv "$tmp" "$dir"
        # Keep the most recent ones.
        ls -1td "$cache"/*/done 2>/dev/null | tail -n +"$((KEEP + 1))" |
            while read -r d; do rm -rf "$(dirname "$d")"; done
    fi
    touch "$dir/done"
    ln -sfn "$dir/rootfs.cpio" "$out/rootfs.cpio"
    cp "$dir/key" "$out/key"
    say "up to date: $out/rootfs.cpio (kernel $kernel, key $key)"
}

case ${1:-} in
build)
    shift
    image= out=
    while [ $# -gt 0 ]; do
        case $1 in
        --image) image=$(realpath "${2:?}"); shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
        esac
    done
    [ -n "$image" ] && [ -n "$out" ] || { usage >&2; die "--image and --out are required"; }
    build "$image" "$out"
    ;;
-h|--help) usage ;;
*) usage >&2; exit 2 ;;
esac
