#!/bin/sh
# Copy the shared libraries that the given binaries need, less the C and C++
# runtimes every Linux host has, into DIR: a GPU host without GLib, libvirt
# & co runs the build tree's binaries with LD_LIBRARY_PATH=DIR (docs/gpu.md).
#
#   scripts/gpu-host-libs.sh DIR BINARY...
#
# Prints one line per library copied.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR BINARY..." >&2; exit 2; }
dir=$1; shift
for bin in "$@"; do
    [ -f "$bin" ] || { echo "$0: no $bin (build first)" >&2; exit 1; }
done
mkdir -p "$dir"
for bin in "$@"; do
    ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
    case $name in
    libc.so.*|libm.so.*|libresolv.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*) continue ;;
    esac
    cp -L "$path" "$dir/$name"
    echo "$name"
done
