# Helpers for the tests that build and install the packages
# (tests/packaging/*.t, tests/libvirt/installed-packages.t, tests/guest/);
# source after tests/lib/tap.sh.
#
#   pkg_debs                  build the debs unless up to date (scripts/build-packages.sh
#                             reuses them when no file changed: once per make check);
#                             sets PKG_DEBS (build/packages/deb) and PKG_VERSION
#   pkg_previous_debs         the debs of the previous version, built once from git
#                             (the parent of the commit that set the current version);
#                             sets PKG_PREV_DEBS and PKG_PREV_VERSION
#   pkg_refuse_installed      bail out if any of the project's packages is installed
#                             (the tests purge them)
#   pkg_purge                 purge every one of them (for cleanup)
#   pkg_doc_block FILE NAME   the lines of the code block (or list) after
#                             <!-- test: NAME --> in FILE
#   pkg_snapshot FILE         the host's paths that a package could leave, sorted
#   pkg_apt ARGS...           apt-get, non-interactive, quiet
#
# What building costs: the first `make deb` of a tree about 1.5 minutes on
# 2 cores (QEMU comes from its cache), the previous version's once per machine
# about as long; later runs only stage and hash the tree (about 5 s).

PKG_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PKG_ALL="vgpu vgpu-dbgsym libvgpu0 libvgpu0-dbgsym libvgpu-dev vgpu-guest-tools vgpu-guest-tools-dbgsym"
PKG_ARCH=$(dpkg --print-architecture)

pkg_apt() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@"; }

pkg_debs() {
    PKG_DEBS=$PKG_TOP/build/packages/deb
    PKG_VERSION=$(make -s -C "$PKG_TOP" --no-print-directory version)
    "$PKG_TOP/scripts/build-packages.sh" deb >"${PKG_LOG:-/dev/null}" 2>&1
}

pkg_previous_debs() {
    local set prev
    set=$(git -C "$PKG_TOP" log -1 --format=%H -G'^VGPU_VERSION :=' -- Makefile 2>/dev/null)
    prev=$(git -C "$PKG_TOP" rev-parse --verify -q "$set^" 2>/dev/null) || {
        echo "no git history to build the previous version from" >&2; return 1; }
    PKG_PREV_VERSION=$(git -C "$PKG_TOP" show "$prev:Makefile" | sed -n 's/^VGPU_VERSION := *//p')
    PKG_PREV_DEBS=$PKG_TOP/build/packages/previous/deb
    # Without the cuda backend (NVCC empty): the upgrade test runs cpu pools,
    # and 0.1.0's debian/rules could not package the CUDA driver's user.
    NVCC= "$PKG_TOP/scripts/build-packages.sh" deb --from "$prev" \
        --out "$PKG_TOP/build/packages/previous" >"${PKG_LOG:-/dev/null}" 2>&1
}

pkg_installed() {
    dpkg-query -W -f='${db:Status-Status} ${Package}\n' $PKG_ALL 2>/dev/null |
        awk '$1 != "not-installed" && $1 != "" { print $2 }'
}

pkg_refuse_installed() {
    local installed
    installed=$(pkg_installed | tr '\n' ' ')
    [ -z "$installed" ] ||
        bail "packages installed here, which this test would purge: $installed"
}

pkg_purge() {
    local installed
    installed=$(pkg_installed)
    [ -z "$installed" ] || pkg_apt purge $installed >/dev/null 2>&1
}

pkg_doc_block() {
    sed -n "/<!-- test: $2 -->/,/^ *\(\`\`\`\)\{0,1\}\$/p" "$1" | sed '1d;$d' | sed '/^ *```/d'
}

# Paths under the trees a package writes to, minus what daemons and package
# managers change by themselves meanwhile.
pkg_snapshot() {
    find /etc /usr /lib /run /var/lib /opt -xdev \
        \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/libvirt \
           -o -path /run/libvirt -o -path /var/lib/systemd -o -path /run/systemd \
           -o -path /run/udev -o -path /etc/ld.so.cache -o -path /var/lib/ucf \
           -o -path '/run/vgpu-*' -o -path /var/lib/man-db -o -path /run/user \
           -o -path /etc/libvirt/qemu -o -path '/run/*.pid' \) -prune -o \
        -print 2>/dev/null | grep -v -e '^/etc/\(passwd\|group\|shadow\|gshadow\)-\?$' |
        LC_ALL=C sort >"$1"
}
