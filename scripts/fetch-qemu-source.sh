#!/bin/bash
# Put the QEMU source tarball that vgpu.spec declares as Source1 into an
# rpmbuild SOURCES directory.
#
#   scripts/fetch-qemu-source.sh SPEC SOURCES_DIR
#
# The spec names the orig tarball of Debian 12's qemu source package
# (upstream's release with the non-free blobs removed), the one QEMU source
# the build machines can reach, and its sha256.  It comes from the QEMU
# build's cache when `make qemu` downloaded it already, else from Debian's
# archive through `apt-get source --download-only` (a deb-src line for
# bookworm: make deps adds it), and where there is no apt (Fedora) with curl
# from the URL of the spec's Source1.
set -euo pipefail

prog=fetch-qemu-source
spec=${1:?usage: $0 SPEC SOURCES_DIR}
dest=${2:?usage: $0 SPEC SOURCES_DIR}
die() { echo "$prog: $*" >&2; exit 1; }

# %global lines are all the spec uses for the name and the checksum.
global() { sed -n "s/^%global $1 *//p" "$spec"; }
qemu_version=$(global qemu_version)
qemu_orig=$(global qemu_orig | sed "s/%{qemu_version}/$qemu_version/")
qemu_sha256=$(global qemu_sha256)
[ -n "$qemu_orig" ] && [ -n "$qemu_sha256" ] || die "$spec has no %global qemu_orig / qemu_sha256"

good() { [ -f "$1" ] && [ "$(sha256sum <"$1" | cut -d' ' -f1)" = "$qemu_sha256" ]; }

mkdir -p "$dest"
good "$dest/$qemu_orig" && exit 0
cache=${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}/qemu/src
for f in "$cache"/*/"$qemu_orig"; do
    if good "$f"; then cp "$f" "$dest/$qemu_orig"; exit 0; fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if command -v apt-get >/dev/null 2>&1; then
    (cd "$tmp" && apt-get source --download-only qemu >"$tmp/get.log" 2>&1) ||
        die "apt-get source qemu failed (is there a deb-src line? make deps adds one): $(tail -n 3 "$tmp/get.log")"
else
    # Not Debian: the URL of the spec's Source1.
    url=$(sed -n 's/^Source1: *//p' "$spec" | sed "s/%{qemu_orig}/$qemu_orig/")
    curl -fsSL -o "$tmp/$qemu_orig" "$url" 2>"$tmp/get.log" || die "cannot download $url: $(cat "$tmp/get.log")"
fi
good "$tmp/$qemu_orig" ||
    die "no $qemu_orig with sha256 $qemu_sha256 (got: $(cd "$tmp" && ls ./*.orig.* 2>/dev/null))"
mv "$tmp/$qemu_orig" "$dest/$qemu_orig"
