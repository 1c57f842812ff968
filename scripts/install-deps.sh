#!/bin/sh
# Install the Debian 12 packages that building, testing and the demo need.
# Idempotent: does nothing when every package is already installed.
# Also enables the deb-src line that `apt-get source qemu` needs.
set -eu

packages="
build-essential pkg-config git ccache ninja-build meson python3 dpkg-dev
libglib2.0-dev libpixman-1-dev libslirp-dev libseccomp-dev zlib1g-dev
seabios qemu-system-data ipxe-qemu libfdt-dev
libjson-glib-dev libsystemd-dev libxml2-dev libvirt-dev libopenblas-dev libsoup-3.0-dev
libncurses-dev
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-daemon-system
busybox-static cpio xz-utils binutils kmod valgrind qemu-utils
debhelper lintian rpm rpmlint debootstrap
groff-base
prometheus tmux curl
gnuplot-nox
clang libclang-rt-dev
"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done

srcs_missing=0
grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ ||
    grep -qs '^deb-src ' /etc/apt/sources.list || srcs_missing=1

if [ -z "$missing" ] && [ "$srcs_missing" = 0 ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    [ "$srcs_missing" = 1 ] && echo "install-deps: and no deb-src line for apt-get source" >&2
    echo "install-deps: run as root (or: sudo $0)" >&2
    exit 1
fi

if [ "$srcs_missing" = 1 ]; then
    echo "install-deps: adding /etc/apt/sources.list.d/vgpu-deb-src.sources"
    cat > /etc/apt/sources.list.d/vgpu-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing:${missing:- (none; refreshing package lists)}"
apt-get update -q
[ -n "$missing" ] && apt-get install -y -q --no-install-recommends $missing
# prometheus is for tests/mediator/prometheus.t, which runs a server of its
# own as an unprivileged user: the system service the package starts (port
# 9090 on every interface) is stopped and disabled again.
case " $missing " in
*" prometheus "*) [ ! -d /run/systemd/system ] || systemctl disable --now prometheus.service ;;
esac
exit 0
