#!/bin/bash
# Build qemu-system-x86_64 with the vgpu-stub device from Debian's QEMU source.
#
#   qemu-device/build-qemu.sh --prefix DIR --out DIR
#
#   --prefix DIR  where the build will be installed (QEMU's configure
#                 --prefix; it finds its data relative to it)
#   --out DIR     stable place for the result, usually build/qemu:
#                   DIR/qemu-system-x86_64  the binary (a symlink into the cache)
#                   DIR/root/               staged install tree (root/PREFIX/...)
#                   DIR/key                 the inputs the build is keyed by
#
# Takes whatever qemu source bookworm currently has (`apt-get source qemu`, so
# a new point release is picked up instead of breaking a pinned version),
# adds the device in-tree (hw/misc/vgpu-stub.c, the contract headers as
# include/vgpu/, common/codec.c as hw/misc/vgpu-codec.c, a Kconfig entry and
# the device set qemu-device/devices.mak) and builds only that binary.
#
# Everything lives in a cache outside the work tree,
# ${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/qemu, so fresh
# clones, CI runs and package builds on this machine reuse it:
#   src/VERSION/   the downloaded source package
#   tree/BASEKEY/  an extracted, configured tree; BASEKEY covers the source
#                  version, configure flags, device set and this script
#   out/KEY/       finished builds; KEY adds the device's own sources
#   ccache/        compiler cache shared by all trees
# A build whose KEY is in out/ is reused at once; a change to the device
# alone rebuilds incrementally in its configured tree.  Old trees and
# builds are pruned.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prog=build-qemu
KEEP_TREES=2            # configured trees kept (about 1 GB each)
KEEP_BUILDS=4           # finished builds kept (about 50 MB each)
KEEP_SOURCES=2          # downloaded source versions kept (about 25 MB each)
DEVICE_SET=vgpu         # configs/devices/x86_64-softmmu/vgpu.mak in the tree

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*"; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

prefix=
out=
while [ $# -gt 0 ]; do
    case $1 in
    --prefix) prefix=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
[ -n "$prefix" ] && [ -n "$out" ] || { usage >&2; die "--prefix and --out are required"; }
case $prefix in /*) ;; *) die "--prefix must be absolute, not '$prefix'" ;; esac

cache=${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/qemu
mkdir -p "$cache/src" "$cache/tree" "$cache/out" "$cache/ccache" "$out"

configure_flags=(
    --prefix="$prefix"
    --target-list=x86_64-softmmu
    --without-default-features
    --without-default-devices
    --with-devices-x86_64="$DEVICE_SET"
    --enable-kvm
    --enable-fdt=system
    --enable-vnc
    --enable-slirp
    --enable-seccomp
    --enable-vhost-kernel
    --enable-vhost-net
    --disable-docs
    --disable-werror
    --with-git-submodules=ignore
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
)

device_files=(qemu-device/vgpu-stub.c qemu-device/trace-events common/codec.c)
header_files=()
for h in "$top"/include/vgpu/*.h; do header_files+=("include/vgpu/${h##*/}"); done

# The .dsc apt would fetch now, e.g. qemu_7.2+dfsg-7+deb12u18.dsc.
source_dsc() {
    apt-get source --print-uris qemu 2>/dev/null |
        sed -n "s/^'[^']*' \(qemu_[^ ]*\.dsc\) .*/\1/p" | head -n 1
}

dsc=$(source_dsc)
[ -n "$dsc" ] || die "apt cannot find the qemu source package: is there a deb-src line? (run: make deps)"
version=${dsc#qemu_}
version=${version%.dsc}

hash_of() { sha256sum | cut -c1-16; }
base_key=$( {
    echo "source $version"
    printf 'flag %s\n' "${configure_flags[@]}"
    sha256sum "$top/qemu-device/devices.mak" "$0" | cut -d' ' -f1
} | hash_of)
key=$( {
    echo "base $base_key"
    (cd "$top" && sha256sum "${device_files[@]}" "${header_files[@]}")
} | hash_of)

publish() {     # point the stable names at out/KEY
    local build=$cache/out/$key
    ln -sfn "$build/root" "$out/root"
    ln -sfn "$build/root$prefix/bin/qemu-system-x86_64" "$out/qemu-system-x86_64"
    cp "$build/inputs" "$out/key"
}

if [ -e "$cache/out/$key/done" ]; then
    touch "$cache/out/$key/done"      # most recently used, for pruning
    publish
    say "up to date: QEMU $version with vgpu-stub (key $key)"
    exit 0
fi

# One build at a time per cache (several work trees may share it).
exec 9>"$cache/lock"
flock 9

# Download the source package once per version.  When apt's lists are older
# than the archive the download fails: refresh them (as root) and retry.
src_dir=$cache/src/$version
if [ ! -e "$src_dir/$dsc" ]; then
    say "downloading Debian's qemu source $version"
    rm -rf "$src_dir.tmp" && mkdir -p "$src_dir.tmp"
    if ! (cd "$src_dir.tmp" && apt-get source --download-only qemu >/dev/null 2>&1) ||
       [ ! -e "$src_dir.tmp/$dsc" ]; then
        rm -rf "$src_dir.tmp"
        [ "$(id -u)" = 0 ] || die "cannot download qemu $version: run 'apt-get update' as root and retry"
        [ -z "${VGPU_QEMU_LISTS_REFRESHED:-}" ] ||
            die "cannot download qemu $version even after 'apt-get update': is the archive reachable?"
        say "download failed; refreshing apt lists and retrying"
        apt-get update -q >/dev/null || die "apt-get update failed"
        exec 9>&-
        VGPU_QEMU_LISTS_REFRESHED=1 exec "$0" --prefix "$prefix" --out "$out"
    fi
    rm -rf "$src_dir" && mv "$src_dir.tmp" "$src_dir"
fi
touch "$src_dir/$dsc"           # most recently used, for pruning

# Add the device to an extracted tree: files, Kconfig entry, meson line,
# device set.  Appending (not patching) keeps this working across releases.
add_device_to_tree() {
    local src=$1 ss
    mkdir -p "$src/include/vgpu"
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
    cp "$top/qemu-device/devices.mak" "$src/configs/devices/x86_64-softmmu/$DEVICE_SET.mak"
    cp "$src/hw/misc/trace-events" "$src/hw/misc/trace-events.orig"
}

# Copy the device's sources in; unchanged files keep their mtime so ninja
# rebuilds only what changed.  The device's trace events follow hw/misc's.
sync_device_sources() {
    local src=$1 f
    install_if_changed "$top/qemu-device/vgpu-stub.c" "$src/hw/misc/vgpu-stub.c"
    install_if_changed "$top/common/codec.c" "$src/hw/misc/vgpu-codec.c"
    for f in "${header_files[@]}"; do
        install_if_changed "$top/$f" "$src/include/vgpu/${f##*/}"
    done
    cat "$src/hw/misc/trace-events.orig" "$top/qemu-device/trace-events" \
        >"$src/hw/misc/trace-events.new"
    install_if_changed "$src/hw/misc/trace-events.new" "$src/hw/misc/trace-events"
}

install_if_changed() {
    cmp -s "$1" "$2" || cp "$1" "$2"
}

export CCACHE_DIR=$cache/ccache
export CCACHE_BASEDIR=$cache/tree       # paths relative to the tree: hits across trees
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

tree=$cache/tree/$base_key
if [ ! -e "$tree/configured" ]; then
    say "preparing a QEMU $version tree (base key $base_key)"
    rm -rf "$tree"
    mkdir -p "$tree"
    dpkg-source -x "$src_dir/$dsc" "$tree/src" >"$tree/extract.log" 2>&1 ||
        die "dpkg-source failed, see $tree/extract.log"
    add_device_to_tree "$tree/src"
    sync_device_sources "$tree/src"
    mkdir -p "$tree/build"
    say "configuring (log: $tree/configure.log)"
    (cd "$tree/build" && ../src/configure --cc="ccache cc" "${configure_flags[@]}") \
        >"$tree/configure.log" 2>&1 || { tail -n 30 "$tree/configure.log" >&2; die "configure failed"; }
    touch "$tree/configured"
fi
touch "$tree/configured"        # most recently used, for pruning
sync_device_sources "$tree/src"

say "building qemu-system-x86_64 (key $key; log: $tree/build.log)"
ninja -C "$tree/build" qemu-system-x86_64 >"$tree/build.log" 2>&1 ||
    { grep -E -A12 '^FAILED:' "$tree/build.log" | grep -v '^ccache ' | head -n 60 >&2
      die "build failed, see $tree/build.log"; }

# Stage what `make install-qemu` installs: the runtime files only (a plain
# `meson install` would first build hundreds of tests).
build=$cache/out/$key
rm -rf "$build.tmp" && mkdir -p "$build.tmp"
(cd "$tree/build" && DESTDIR="$build.tmp/root" meson install --no-rebuild --tags runtime) \
    >"$tree/install.log" 2>&1 || { tail -n 20 "$tree/install.log" >&2; die "staging the install failed"; }
[ -x "$build.tmp/root$prefix/bin/qemu-system-x86_64" ] ||
    die "staged install has no $prefix/bin/qemu-system-x86_64 (see $tree/install.log)"
{
    echo "key $key"
    echo "base $base_key"
    echo "source qemu $version"
    echo "prefix $prefix"
    printf 'flag %s\n' "${configure_flags[@]}"
    (cd "$top" && sha256sum qemu-device/devices.mak "${device_files[@]}" "${header_files[@]}")
} >"$build.tmp/inputs"
touch "$build.tmp/done"
rm -rf "$build" && mv "$build.tmp" "$build"
publish

# Prune the least recently used trees and builds, and failed attempts.
prune() {       # dir keep marker (a glob)
    local dir=$1 keep=$2 marker=$3 entry markers=()
    for entry in "$dir"/*; do
        if compgen -G "$entry/$marker" >/dev/null; then
            markers+=("$(compgen -G "$entry/$marker" | head -n 1)")
        else
            rm -rf "$entry"
        fi
    done
    [ ${#markers[@]} -gt 0 ] || return 0
    ls -1t "${markers[@]}" | tail -n +"$((keep + 1))" |
        while read -r m; do rm -rf "$(dirname "$m")"; done
}
prune "$cache/tree" "$KEEP_TREES" configured
prune "$cache/out" "$KEEP_BUILDS" done
prune "$cache/src" "$KEEP_SOURCES" '*.dsc'
ccache --show-stats 2>/dev/null | grep -iE 'hits|misses' | head -n 3 | sed "s/^/$prog: ccache /" || true
say "built QEMU $version with vgpu-stub: $out/qemu-system-x86_64"
