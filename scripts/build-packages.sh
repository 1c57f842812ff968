#!/bin/bash
# Build the project's packages from the work tree (make deb / make rpm).
#
#   scripts/build-packages.sh deb|rpm
#
# Copies the tracked and new (not ignored) files of the work tree into
# build/packages/stage/vgpu-VERSION, builds there, and leaves the packages in
# build/packages/ with the lintian or rpmlint report beside them.  The QEMU
# build comes from the same cache as `make qemu` (VGPU_CACHE_DIR), so a
# package build does not rebuild QEMU.
set -euo pipefail

prog=build-packages
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/packages
version=$(make -s -C "$top" --no-print-directory version)
stage=$out/stage/vgpu-$version
export VGPU_CACHE_DIR=${VGPU_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vgpu-stub}

die() { echo "$prog: $*" >&2; exit 1; }

stage_tree() {
    rm -rf "$out/stage" && mkdir -p "$stage"
    if [ -d "$top/.git" ] || [ -f "$top/.git" ]; then
        (cd "$top" && git ls-files -co --exclude-standard -z | cpio -0pdm --quiet "$stage")
    else
        (cd "$top" && find . -path ./build -prune -o -type f -print0 | cpio -0pdm --quiet "$stage")
    fi
}

build_deb() {
    local changelog
    changelog=$(dpkg-parsechangelog -l "$top/packaging/deb/debian/changelog" -S Version)
    [ "${changelog%-*}" = "$version" ] ||
        die "packaging/deb/debian/changelog is at $changelog, the Makefile at $version"
    stage_tree
    cp -a "$top/packaging/deb/debian" "$stage/debian"
    rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
    (cd "$stage" && dpkg-buildpackage -b -us -uc) >"$out/deb-build.log" 2>&1 ||
        { tail -n 40 "$out/deb-build.log" >&2; die "dpkg-buildpackage failed, see $out/deb-build.log"; }
    mv "$out"/stage/*.deb "$out"/stage/*.buildinfo "$out"/stage/*.changes "$out"/
    lintian --no-tag-display-limit "$out"/*.changes >"$out/lintian.txt" 2>&1 || true
    echo "$prog: built $(cd "$out" && ls ./*.deb | tr '\n' ' ')(lintian: $out/lintian.txt)"
}

build_rpm() {
    local spec_version nodeps=()
    spec_version=$(sed -n 's/^Version: *//p' "$top/vgpu.spec")
    [ "$spec_version" = "$version" ] || die "vgpu.spec is at $spec_version, the Makefile at $version"
    stage_tree
    mkdir -p "$out/rpmbuild/SOURCES"
    tar -C "$out/stage" -czf "$out/rpmbuild/SOURCES/vgpu-$version.tar.gz" "vgpu-$version"
    # Debian's rpm database knows none of the build dependencies.
    rpm -q rpm >/dev/null 2>&1 || nodeps=(--nodeps)
    rm -f "$out"/*.rpm
    rpmbuild -ba "${nodeps[@]}" --define "_topdir $out/rpmbuild" \
        --load "$top/packaging/rpm/debian.macros" "$top/vgpu.spec" >"$out/rpm-build.log" 2>&1 ||
        { tail -n 40 "$out/rpm-build.log" >&2; die "rpmbuild failed, see $out/rpm-build.log"; }
    find "$out/rpmbuild/RPMS" "$out/rpmbuild/SRPMS" -name '*.rpm' -exec mv {} "$out"/ \;
    rpmlint "$out"/*.src.rpm "$top/vgpu.spec" >"$out/rpmlint.txt" 2>&1 || true
    echo "$prog: built $(cd "$out" && ls ./*.rpm | tr '\n' ' ')(rpmlint: $out/rpmlint.txt)"
}

case ${1:-} in
    deb) build_deb ;;
    rpm) build_rpm ;;
    *) echo "usage: $0 deb|rpm" >&2; exit 2 ;;
esac
