# Helpers for the libvirt tests (tests/libvirt/*.t); source after tests/lib/tap.sh.
#
#   lv_init                 private temp dir $LV_TMP (mode 755: libvirt-qemu must reach it),
#                           cleanup of everything below on EXIT
#   lv_mediator_start [POOLS]  vgpu-mediatord on $LV_RUN (default pools: A B), socket
#                           group libvirt-qemu so QEMU can connect
#   lv_mediator_stop
#   lv_vgpuctl ARGS...      build/vgpuctl on the test's mediator
#   lv_list_field UUID FIELD   a field of `vgpuctl list --json` for UUID ("" if absent)
#   lv_libvirt_start        virtlogd and libvirtd (as root, without systemd), unless running
#   lv_libvirt_restart [CMD...]  stop libvirtd, run CMD, start it (domains keep running)
#   lv_hook_install         build/vgpu-libvirt-hook in /etc/libvirt/hooks/qemu.d/, SIGHUP
#   lv_qemu_install         the project's QEMU where libvirt-qemu can run it: $LV_EMULATOR
#   lv_virsh ARGS...        virsh on qemu:///system
#   lv_define NAME XMLFILE  define a domain; it is destroyed and undefined at exit
#   lv_define_data FILE NAME  define tests/libvirt/data/FILE as NAME (fresh UUID, our
#                           QEMU, disks in $LV_TMP, the domain type of this host)
#   lv_domain_type          kvm when KVM runs guests here, else qemu (TCG)
#   lv_guest_image SCRIPT   the guest image with SCRIPT and vgpu-client in $LV_GUEST
#   lv_guest_domain NAME MACHINE  define a guest-image domain, console in $LV_TMP/NAME.console
#   lv_console NAME         that console's text
#   lv_wait_for SECONDS CMD...  run CMD until it succeeds, at most SECONDS
#
# Every wait has a timeout; every process and file the test made goes at exit.

LV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LV_BUILD=$LV_TOP/build
. "$LV_TOP/scripts/accel.sh"
LV_URI=qemu:///system
LV_HOOK_DIR=/etc/libvirt/hooks/qemu.d
LV_QEMU_USER=libvirt-qemu
LV_DOMAINS=()
LV_MEDIATOR_PID=
LV_STARTED_LIBVIRTD=
LV_STARTED_VIRTLOGD=
LV_HOOK_LINK=
LV_KVM_MODE=

lv_wait_for() {         # seconds command...
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

lv_virsh() { virsh -q -c "$LV_URI" "$@"; }

lv_cleanup() {
    local d
    for d in "${LV_DOMAINS[@]}"; do
        lv_virsh destroy "$d" >/dev/null 2>&1
        lv_virsh undefine "$d" >/dev/null 2>&1
    done
    if [ -n "$LV_HOOK_LINK" ]; then
        rm -f "$LV_HOOK_LINK"
        [ -z "$LV_STARTED_LIBVIRTD" ] && lv_libvirtd_reload
    fi
    lv_mediator_stop
    # What libvirt probed of the test's emulator copy, named by its path's
    # sha256, and the domains' logs: nothing of the test stays on the host.
    if [ -n "${LV_EMULATOR:-}" ]; then
        rm -f "/var/cache/libvirt/qemu/capabilities/$(printf '%s' "$LV_EMULATOR" |
               sha256sum | cut -d' ' -f1).xml"
    fi
    for d in "${LV_DOMAINS[@]}"; do
        rm -f "/var/log/libvirt/qemu/$d.log"
    done
    if [ -n "$LV_KVM_MODE" ]; then
        chown "${LV_KVM_MODE#* }" /dev/kvm && chmod "${LV_KVM_MODE%% *}" /dev/kvm
    fi
    if [ -n "$LV_STARTED_LIBVIRTD" ]; then
        lv_stop_pidfile /run/libvirtd.pid
    fi
    if [ -n "$LV_STARTED_VIRTLOGD" ]; then
        lv_stop_pidfile /run/virtlogd.pid
    fi
    [ -n "${LV_TMP:-}" ] && rm -rf "$LV_TMP"
}

lv_init() {
    [ "$(id -u)" = 0 ] || bail "the libvirt tests run as root (libvirtd's system instance)"
    LV_TMP=$(mktemp -d /tmp/vgpu-libvirt-test.XXXXXX) || bail "no temp dir"
    chmod 755 "$LV_TMP"
    LV_RUN=$LV_TMP/run
    trap lv_cleanup EXIT
    trap 'exit 130' INT TERM
}

lv_stop_pidfile() {     # pidfile: SIGTERM the daemon it names and wait for it to go
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    lv_wait_for 20 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
}

lv_vgpuctl() { "$LV_BUILD/vgpuctl" --runtime-dir "$LV_RUN" "$@"; }

lv_mediator_start() {   # [pool letters]
    local pools=${1:-A B} p
    mkdir -p "$LV_RUN"
    {
        echo "[mediator]"
        echo "runtime-dir=$LV_RUN"
        echo "log-level=debug"
        echo "socket-group=$LV_QEMU_USER"
        for p in $pools; do
            printf '[pool %s]\nbackend=cpu\n' "$p"
        done
    } > "$LV_TMP/mediator.conf"
    "$LV_BUILD/vgpu-mediatord" --config "$LV_TMP/mediator.conf" --foreground \
        >> "$LV_TMP/mediator.log" 2>&1 &
    LV_MEDIATOR_PID=$!
    lv_wait_for 10 lv_vgpuctl ping || { cat "$LV_TMP/mediator.log" | sed 's/^/# /'; bail "mediator did not start"; }
}

lv_mediator_stop() {
    [ -n "$LV_MEDIATOR_PID" ] || return 0
    kill "$LV_MEDIATOR_PID" 2>/dev/null
    lv_wait_for 10 sh -c "! kill -0 $LV_MEDIATOR_PID" || kill -9 "$LV_MEDIATOR_PID" 2>/dev/null
    wait "$LV_MEDIATOR_PID" 2>/dev/null
    LV_MEDIATOR_PID=
}

lv_list_field() {       # uuid field
    lv_vgpuctl --json list 2>/dev/null | python3 -c '
import json, sys
uuid, field = sys.argv[1], sys.argv[2]
text = sys.stdin.read()
for vm in (json.loads(text).get("vms", []) if text.strip() else []):
    if vm["uuid"] == uuid:
        print(vm[field])
' "$1" "$2"
}

lv_daemon_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

lv_libvirt_up() { lv_virsh uri; }

# A Debian host's udev gives /dev/kvm to group kvm (libvirt-qemu is in it).
# Without udev it stays root-only, and libvirt 9.0 then probes the emulator
# again on every lookup ("KVM was enabled when probing ..., but it is not
# available now"), which makes each define or start take a minute.  Put
# the udev permissions in place for the test, and the old ones back after.
lv_kvm_permissions() {
    [ -c /dev/kvm ] || return 0
    setpriv --reuid="$LV_QEMU_USER" --regid="$LV_QEMU_USER" --init-groups \
        test -r /dev/kvm -a -w /dev/kvm 2>/dev/null && return 0
    LV_KVM_MODE=$(stat -c '%a %u:%g' /dev/kvm)
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
}

lv_libvirt_start() {
    mkdir -p /var/log/libvirt "$LV_HOOK_DIR"
    lv_kvm_permissions
    if ! lv_daemon_alive /run/virtlogd.pid; then
        virtlogd -d || bail "cannot start virtlogd"
        LV_STARTED_VIRTLOGD=1
    fi
    if ! lv_daemon_alive /run/libvirtd.pid; then
        libvirtd -d || bail "cannot start libvirtd"
        LV_STARTED_LIBVIRTD=1
    fi
    lv_wait_for 60 lv_libvirt_up || bail "libvirtd does not answer on $LV_URI"
}

lv_libvirtd_reload() {  # libvirtd re-reads the hook directory on SIGHUP
    lv_daemon_alive /run/libvirtd.pid || return 0
    kill -HUP "$(cat /run/libvirtd.pid)"
    sleep 1
    lv_wait_for 30 lv_libvirt_up
}

lv_libvirt_restart() {  # [command to run while libvirtd is down]
    lv_stop_pidfile /run/libvirtd.pid
    [ $# -gt 0 ] && "$@"
    libvirtd -d || bail "cannot restart libvirtd"
    lv_wait_for 60 lv_libvirt_up || bail "libvirtd does not answer after a restart"
}

lv_hook_install() {
    LV_HOOK_LINK=$LV_HOOK_DIR/vgpu-test-$$
    ln -sfn "$LV_BUILD/vgpu-libvirt-hook" "$LV_HOOK_LINK"
    lv_libvirtd_reload || bail "libvirtd does not answer after SIGHUP"
}

# The build is relocatable (its firmware comes from Debian's packages), but
# build/qemu points into root's cache, which libvirt-qemu cannot enter.
lv_qemu_install() {
    [ -x "$LV_BUILD/qemu/qemu-system-x86_64" ] || bail "no QEMU build: make qemu"
    mkdir -p "$LV_TMP/qemu/bin"
    cp -L "$LV_BUILD/qemu/qemu-system-x86_64" "$LV_TMP/qemu/bin/qemu-system-x86_64"
    chmod -R a+rX "$LV_TMP/qemu"
    LV_EMULATOR=$LV_TMP/qemu/bin/qemu-system-x86_64
}

# kvm when KVM really runs a guest here, else qemu (TCG): scripts/accel.sh.
# libvirt refuses type kvm where QEMU cannot use KVM.
lv_domain_type() {
    case $(vgpu_accel "$LV_EMULATOR" "${LV_GUEST:-$LV_BUILD/guest-image}") in
    kvm) echo kvm ;;
    *) echo qemu ;;
    esac
}

# The guest image (scripts/guest-image.sh) with a test script and the static
# vgpu-client appended, where libvirt-qemu can read it: $LV_GUEST/vmlinuz and
# $LV_GUEST/initramfs.cpio.gz (bare) and $LV_GUEST/test-initramfs.cpio.gz.
lv_guest_image() {     # test-script
    local image=$LV_BUILD/guest-image client=$LV_BUILD/guest-tools/vgpu-client-static
    [ -f "$image/vmlinuz" ] || bail "no guest image: make guest-image"
    [ -x "$client" ] || bail "no $client: make"
    LV_GUEST=$LV_TMP/guest
    mkdir -p "$LV_GUEST/add/bin"
    cp -L "$image/vmlinuz" "$image/initramfs.cpio.gz" "$LV_GUEST/"
    cp "$client" "$LV_GUEST/add/bin/vgpu-client"
    cp "$1" "$LV_GUEST/add/vgpu-test.sh"
    chmod 755 "$LV_GUEST/add/vgpu-test.sh"
    "$LV_TOP/scripts/guest-image.sh" pack "$LV_GUEST/add" "$LV_GUEST/add.cpio.gz" ||
        bail "cannot pack the guest's test files"
    cat "$LV_GUEST/initramfs.cpio.gz" "$LV_GUEST/add.cpio.gz" > "$LV_GUEST/test-initramfs.cpio.gz"
    chmod -R a+rX "$LV_GUEST"
}

# lv_guest_domain NAME MACHINE: define a guest-image domain (its console in
# $LV_TMP/NAME.console) with scripts/guest-domain.sh.
lv_guest_domain() {
    "$LV_TOP/scripts/guest-domain.sh" --name "$1" --machine "$2" --type "$(lv_domain_type)" \
        --kernel "$LV_GUEST/vmlinuz" --initrd "$LV_GUEST/test-initramfs.cpio.gz" \
        --console "$LV_TMP/$1.console" --emulator "$LV_EMULATOR" > "$LV_TMP/$1.xml" ||
        bail "guest-domain.sh failed"
    lv_define "$1" "$LV_TMP/$1.xml"
}

# The guest's console, without carriage returns.
lv_console() { tr -d '\r' < "$LV_TMP/$1.console" 2>/dev/null; }

lv_define() {           # name xmlfile
    LV_DOMAINS+=("$1")
    lv_virsh define "$2" >/dev/null
}

# The data files are domains as users write them (type kvm); each is defined
# with this test's name, a fresh UUID, our QEMU and this host's domain type.
lv_define_data() {      # file name
    local type
    type=$(lv_domain_type)
    sed -e "s|<name>[^<]*</name>|<name>$2</name>|" \
        -e "s|<uuid>[^<]*</uuid>|<uuid>$(cat /proc/sys/kernel/random/uuid)</uuid>|" \
        -e "s|<domain type=[\"'][a-z]*[\"']|<domain type='$type'|" \
        -e "s|<emulator>[^<]*</emulator>|<emulator>$LV_EMULATOR</emulator>|" \
        -e "s|/var/lib/libvirt/images/|$LV_TMP/|" "$LV_TOP/tests/libvirt/data/$1" > "$LV_TMP/$2.xml"
    lv_define "$2" "$LV_TMP/$2.xml"
}
