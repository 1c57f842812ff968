#!/bin/bash
# Build the project's packages from the work tree (make deb / make rpm).
#
#   scripts/build-packages.sh deb|rpm [--from COMMIT] [--out DIR]
#
# Copies the tracked and new (not ignored) files of the work tree (or, with
# --from, the tree of a commit) into a stage directory, builds there, and
# sorts the packages by where they go, so that a shell glob installs the
# right ones:
#
#   DIR/deb/host/     vgpu_*.deb                                  (the host)
#   DIR/deb/guest/    libvgpu0, vgpu-guest-tools, libvgpu-dev,    (the guests)
#                     vgpu-guest-cuda (where the CUDA toolkit is)
#   DIR/deb/debug/    *-dbgsym_*.deb                              (debug symbols)
#   DIR/deb/lintian.txt, deb-build.log, .changes, .buildinfo
#   DIR/rpm/host/     vgpu-VERSION-*.x86_64.rpm
#   DIR/rpm/guest/    vgpu-guest-tools, vgpu-guest-tools-devel
#   DIR/rpm/source/   the source RPM
#   DIR/rpm/rpmlint.txt, rpm-build.log
#
# DIR is build/packages by default.  A build whose inputs (every staged file)
# have not changed since the last one in DIR is not repeated: the tests build
# the packages once per `make check` and share them.
#
# The deb's QEMU comes from the same cache as `make qemu` (VGPU_CACHE_DIR).
# The RPM builds QEMU itself from the declared Source1 tarball (vgpu.spec),
# which scripts/fetch-qemu-source.sh puts into its SOURCES; on Debian the
# QEMU compile goes through ccache (packaging/rpm/debian.macros) in
# VGPU_CACHE_DIR/rpm-ccache.  The RPM is built in one place per machine,
# VGPU_CACHE_DIR/rpm-build/ (one build at a time), as mock builds in
# /builddir: QEMU's generated trace headers hold the absolute path of the
# source, so a stage in each clone missed the cache on every fresh clone.
# Only a machine's first RPM build compiles QEMU (about 7 minutes on 2
# cores); later ones, from any clone, take about a minute.  It cannot share
# `make qemu`'s cache: that compiles Debian's patched 7.2.x (QEMU_VERSION
# and 700-odd files differ), the RPM upstream's 7.2.0.
set -euo pipefail

prog=build-packages
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/packages
from=
kind=${1:-}
shift || true
while [ $# -gt 0 ]; do
    case $1 in
    --from) from=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) echo "usage: $0 deb|rpm [--from COMMIT] [--out DIR]" >&2; exit 2 ;;
    esac
done
export VGPU_CACHE_DIR=${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}

die() { echo "$prog: $*" >&2; exit 1; }

# The staged tree's top-level Makefile says the version.
tree_version() { sed -n 's/^VGPU_VERSION := *//p' "$1/Makefile"; }

stage_tree() {         # stage dir (emptied first)
    local stage=$1
    rm -rf "$stage" && mkdir -p "$stage"
    if [ -n "$from" ]; then
        git -C "$top" archive --format=tar "$from" | tar -x -C "$stage" ||
            die "cannot export commit $from"
    elif [ -d "$top/.git" ] || [ -f "$top/.git" ]; then
        (cd "$top" && git ls-files -co --exclude-standard -z | cpio -0pdm --quiet "$stage")
    else
        (cd "$top" && find . -path ./build -prune -o -type f -print0 | cpio -0pdm --quiet "$stage")
    fi
}

# What the packages are built from: every staged file, by content.
inputs_key() {          # stage dir
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
        sha256sum | cut -c1-16
}

# up_to_date DIR KEY: DIR holds packages built from KEY.
up_to_date() { [ -f "$1/key" ] && [ "$(cat "$1/key")" = "$2" ]; }

# vgpu-guest-cuda needs the CUDA toolkit, found as the Makefile finds it
# (NVCC, else nvcc on PATH or in /usr/local/cuda); without one the build
# leaves it out with this profile.
deb_profile() {
    local nvcc=${NVCC-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
    [ -n "$nvcc" ] && [ -x "$nvcc" ] || echo pkg.vgpu.nocuda
}

build_deb() {
    local dir=$out/deb stage=$out/stage-deb version changelog key p profile=$(deb_profile)
    rm -rf "$stage"
    stage_tree "$stage/src"
    version=$(tree_version "$stage/src")
    changelog=$(dpkg-parsechangelog -l "$stage/src/packaging/deb/debian/changelog" -S Version)
    [ "${changelog%-*}" = "$version" ] ||
        die "packaging/deb/debian/changelog is at $changelog, the Makefile at $version"
    key=$(inputs_key "$stage/src")${profile:+-$profile}
    if up_to_date "$dir" "$key"; then
        rm -rf "$stage"
        echo "$prog: up to date: $(cd "$dir" && ls ./*/*.deb | tr '\n' ' ')(key $key)"
        return 0
    fi
    rm -rf "$dir" && mkdir -p "$dir/host" "$dir/guest" "$dir/debug"
    cp -a "$stage/src/packaging/deb/debian" "$stage/src/debian"
    (cd "$stage/src" && dpkg-buildpackage -b -us -uc ${profile:+-P$profile}) \
        >"$dir/deb-build.log" 2>&1 ||
        { tail -n 40 "$dir/deb-build.log" >&2; die "dpkg-buildpackage failed, see $dir/deb-build.log"; }
    mv "$stage"/*.buildinfo "$stage"/*.changes "$dir"/
    mv "$stage"/*-dbgsym_*.deb "$dir/debug/" 2>/dev/null || true
    mv "$stage"/vgpu_*.deb "$dir/host/"
    for p in libvgpu0 libvgpu-dev vgpu-guest-tools; do
        mv "$stage/${p}_"*.deb "$dir/guest/"
    done
    [ -n "$profile" ] || mv "$stage"/vgpu-guest-cuda_*.deb "$dir/guest/"
    [ -z "$(ls "$stage"/*.deb 2>/dev/null)" ] ||
        die "packages this script does not sort: $(ls "$stage"/*.deb)"
    lintian --tag-display-limit 0 "$dir"/host/*.deb "$dir"/guest/*.deb "$dir"/debug/*.deb \
        >"$dir/lintian.txt" 2>&1 || true
    rm -rf "$stage"
    echo "$key" >"$dir/key"
    echo "$prog: built $(cd "$dir" && ls ./*/*.deb | tr '\n' ' ')(lintian: $dir/lintian.txt)"
}

build_rpm() {
    local dir=$out/rpm build=$VGPU_CACHE_DIR/rpm-build version spec_version key debian=()
    local stage=$build/stage
    mkdir -p "$build"
    exec 8>"$build/lock"
    flock -n 8 || { echo "$prog: waiting for another RPM build on this machine ($build)"; flock 8; }
    rm -rf "$stage"
    stage_tree "$stage/vgpu"
    version=$(tree_version "$stage/vgpu")
    spec_version=$(sed -n 's/^Version: *//p' "$stage/vgpu/vgpu.spec")
    [ "$spec_version" = "$version" ] || die "vgpu.spec is at $spec_version, the Makefile at $version"
    key=$(inputs_key "$stage/vgpu")
    if up_to_date "$dir" "$key"; then
        rm -rf "$stage"
        echo "$prog: up to date: $(cd "$dir" && ls ./*/*.rpm | tr '\n' ' ')(key $key)"
        return 0
    fi
    rm -rf "$dir" && mkdir -p "$dir/host" "$dir/guest" "$dir/source" "$stage/rpmbuild/SOURCES"
    mv "$stage/vgpu" "$stage/vgpu-$version"
    tar -C "$stage" -czf "$stage/rpmbuild/SOURCES/vgpu-$version.tar.gz" "vgpu-$version"
    # Source1: QEMU's release tarball, from Debian's archive (the only one
    # reachable from the build machines).
    "$top/scripts/fetch-qemu-source.sh" "$stage/vgpu-$version/vgpu.spec" "$stage/rpmbuild/SOURCES" ||
        die "cannot fetch the QEMU source tarball"
    # On Debian (rpm's database is empty there): its database knows none of
    # the build dependencies, and its rpm lacks Fedora's macros.
    if ! rpm -q rpm >/dev/null 2>&1; then
        debian=(--nodeps --load "$stage/vgpu-$version/packaging/rpm/debian.macros")
        # Depend mode takes the includes from the compiler's -MD output
        # instead of running the preprocessor a second time on each miss
        # (a fifth of a cold compile); it hits only in direct mode, which
        # the one stage path allows.  The base dir keeps that path out of
        # the hash where it can (another VGPU_CACHE_DIR).
        export CCACHE_DIR=$VGPU_CACHE_DIR/rpm-ccache CCACHE_BASEDIR=$stage CCACHE_NOHASHDIR=1 \
               CCACHE_DEPEND=1 CCACHE_STATSLOG=$stage/ccache-stats.log
    fi
    rpmbuild -ba "${debian[@]}" --define "_topdir $stage/rpmbuild" \
        "$stage/vgpu-$version/vgpu.spec" >"$dir/rpm-build.log" 2>&1 ||
        { tail -n 40 "$dir/rpm-build.log" >&2; die "rpmbuild failed, see $dir/rpm-build.log"; }
    if [ -f "$stage/ccache-stats.log" ]; then
        echo "$prog: QEMU's compile through ccache ($CCACHE_DIR):" \
            "$(ccache --show-log-stats | grep -E '^ *(Hits|Misses):' | tr -s ' ' | tr '\n' ' ')" |
            tee -a "$dir/rpm-build.log"
    fi
    mv "$stage"/rpmbuild/SRPMS/*.src.rpm "$dir/source/"
    mv "$stage"/rpmbuild/RPMS/*/vgpu-guest-tools*.rpm "$dir/guest/"
    mv "$stage"/rpmbuild/RPMS/*/vgpu-*.rpm "$dir/host/"
    rpmlint -r "$stage/vgpu-$version/packaging/rpm/vgpu.rpmlintrc" "$dir"/source/*.src.rpm \
        "$dir"/host/*.rpm "$dir"/guest/*.rpm "$stage/vgpu-$version/vgpu.spec" \
        >"$dir/rpmlint.txt" 2>&1 || true
    rm -rf "$stage"
    echo "$key" >"$dir/key"
    echo "$prog: built $(cd "$dir" && ls ./*/*.rpm | tr '\n' ' ')(rpmlint: $dir/rpmlint.txt)"
}

case $kind in
    deb) build_deb ;;
    rpm) build_rpm ;;
    *) echo "usage: $0 deb|rpm [--from COMMIT] [--out DIR]" >&2; exit 2 ;;
esac
