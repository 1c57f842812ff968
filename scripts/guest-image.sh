#!/bin/bash
# A small guest for booted tests and the demo: Debian's kernel and a
# busybox initramfs that runs one test script and powers off.
#
#   scripts/guest-image.sh build --out DIR
#       Build (or reuse) the image and link it into DIR:
#         DIR/vmlinuz           Debian bookworm's current amd64 kernel
#         DIR/initramfs.cpio.gz busybox-static, /init, and the kernel's
#                               uio.ko and uio_pci_generic.ko in /lib/modules/vgpu/
#         DIR/key               what the cached image was built from
#   scripts/guest-image.sh pack SRCDIR OUT.cpio.gz
#       Pack SRCDIR (its contents, owned by root) as a gzipped newc archive
#       to append to the initramfs: cat initramfs.cpio.gz OUT.cpio.gz > x
#       (the kernel unpacks concatenated archives in order; later files win).
#
# What /init does, in order:
#   - mounts /proc, /sys, /dev (devtmpfs) and /tmp; /dev/console is in the
#     archive so the kernel can give init a console before that;
#   - runs /vgpu-test.sh if an appended archive put it there, with its
#     output on the serial console (boot with console=ttyS0) between
#         ==== vgpu-test begin ====
#         ==== vgpu-test end: status N ====
#     where N is its exit status ("missing" when there is no script);
#   - powers the VM off (boot QEMU with -no-reboot so a panic ends it too).
# Busybox's applets are on PATH; the test script loads the uio modules
# itself (insmod /lib/modules/vgpu/uio.ko ...) when it needs them.
#
# The image is cached outside the work tree in
# ${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/guest-image/KEY/, keyed by the
# kernel package, the busybox version and this script; a rebuild with
# nothing changed takes a second.  Needs root (the archive holds the
# /dev/console node) and the packages busybox-static and cpio.
set -euo pipefail

prog=guest-image
BEGIN_MARK='==== vgpu-test begin ===='
END_MARK='==== vgpu-test end: status'
KERNEL_META=linux-image-amd64   # depends on the current linux-image-X-amd64
KEEP_IMAGES=3

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*"; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

# Pack the contents of $1 into the gzipped newc archive $2.
pack() {
    local src=$1 out=$2
    [ -d "$src" ] || die "pack: no directory '$src'"
    out=$(realpath -m "$out")
    (cd "$src" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 | gzip -9n) >"$out.tmp"
    mv "$out.tmp" "$out"
}

# The versioned kernel package the meta package points at now.
kernel_package() {
    apt-cache depends "$KERNEL_META" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1
}

write_init() {
    cat >"$1" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
echo '$BEGIN_MARK'
if [ -x /vgpu-test.sh ]; then
    /vgpu-test.sh
    status=\$?
else
    echo "no /vgpu-test.sh in the initramfs"
    status=missing
fi
echo "$END_MARK \$status ===="
sync
poweroff -f
INIT
    chmod 755 "$1"
}

build() {
    local out=$1 cache kernel_pkg kernel_ver busybox_ver key image tmp vmlinuz mods

    [ -x /bin/busybox ] || die "no /bin/busybox: install busybox-static (make deps)"
    [ "$(id -u)" = 0 ] || die "needs root to create /dev/console in the archive"
    kernel_pkg=$(kernel_package)
    [ -n "$kernel_pkg" ] || die "apt knows no $KERNEL_META: run 'apt-get update'"
    kernel_ver=$(apt-cache policy "$kernel_pkg" | sed -n 's/^ *Candidate: //p')
    busybox_ver=$(dpkg-query -W -f='${Version}' busybox-static)
    key=$(printf '%s\n' "$kernel_pkg $kernel_ver" "busybox $busybox_ver" "$(sha256sum <"$0")" |
          sha256sum | cut -c1-16)

    cache=${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/guest-image
    image=$cache/$key
    mkdir -p "$cache" "$out"
    if [ ! -e "$image/done" ]; then
        say "building the guest image from $kernel_pkg $kernel_ver and busybox $busybox_ver"
        tmp=$(mktemp -d "$cache/tmp.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        (cd "$tmp" && apt-get download -q "$kernel_pkg=$kernel_ver" >/dev/null 2>&1) ||
            die "cannot download $kernel_pkg $kernel_ver (run 'apt-get update'?)"
        dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/kernel"
        vmlinuz=$(ls "$tmp"/kernel/boot/vmlinuz-* | head -n 1)
        mods=$(ls -d "$tmp"/kernel/lib/modules/*/kernel/drivers/uio)
        [ -f "$vmlinuz" ] && [ -f "$mods/uio.ko" ] && [ -f "$mods/uio_pci_generic.ko" ] ||
            die "$kernel_pkg lacks vmlinuz or the uio modules (compressed modules?)"

        mkdir -p "$tmp/root/bin" "$tmp/root/dev" "$tmp/root/proc" "$tmp/root/sys" \
                 "$tmp/root/tmp" "$tmp/root/lib/modules/vgpu"
        cp /bin/busybox "$tmp/root/bin/busybox"
        cp "$mods/uio.ko" "$mods/uio_pci_generic.ko" "$tmp/root/lib/modules/vgpu/"
        mknod -m 600 "$tmp/root/dev/console" c 5 1
        write_init "$tmp/root/init"
        mkdir -p "$tmp/image"
        pack "$tmp/root" "$tmp/image/initramfs.cpio.gz"
        cp "$vmlinuz" "$tmp/image/vmlinuz"
        printf '%s\n' "key $key" "kernel $kernel_pkg $kernel_ver" "busybox $busybox_ver" \
            >"$tmp/image/key"
        touch "$tmp/image/done"
        rm -rf "$image"
        mv "$tmp/image" "$image"
        rm -rf "$tmp"
        trap - EXIT
        ls -1td "$cache"/*/done 2>/dev/null | tail -n +"$((KEEP_IMAGES + 1))" |
            while read -r d; do rm -rf "$(dirname "$d")"; done
    fi
    touch "$image/done"
    for f in vmlinuz initramfs.cpio.gz; do
        ln -sfn "$image/$f" "$out/$f"
    done
    cp "$image/key" "$out/key"
    say "guest image in $out ($(sed -n 's/^kernel //p' "$image/key"))"
}

case ${1:-} in
build)
    [ "${2:-}" = --out ] && [ -n "${3:-}" ] || { usage >&2; exit 2; }
    build "$3"
    ;;
pack)
    [ $# = 3 ] || { usage >&2; exit 2; }
    pack "$2" "$3"
    ;;
-h|--help)
    usage
    ;;
*)
    usage >&2
    exit 2
    ;;
esac
