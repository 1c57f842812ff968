# Helpers for the libvirt tests (tests/libvirt/*.t); source after tests/lib/tap.sh.
#
#   lv_init                 private temp dir $LV_TMP (mode 755: libvirt-qemu must reach it),
#                           cleanup of everything below on EXIT
#   lv_mediator_start [POOLS]  vgpu-mediatord on $LV_RUN (default pools: A B), socket
#                           group libvirt-qemu so QEMU can connect
#   lv_mediator_stop
#   lv_vgpuctl ARGS...      build/vgpuctl on the test's mediator
#   lv_list_field UUID FIELD   a field of `vgpuctl list --json` for UUID ("" if absent)
#   lv_libvirt_start        libvirtd (and virtlogd) unless running: vgpu_libvirt_start
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
#
# Waits, the mediator and the daemons go through scripts/lib.sh (vgpu_*).
# Every wait has a timeout; every process and file the test made goes at exit.

LV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LV_BUILD=$LV_TOP/build
. "$LV_TOP/scripts/accel.sh"
. "$LV_TOP/scripts/lib.sh"
LV_URI=$VGPU_LIBVIRT_URI
LV_HOOK_DIR=/etc/libvirt/hooks/qemu.d
LV_QEMU_USER=$VGPU_QEMU_USER
LV_DOMAINS=()
LV_HOOK_LINK=

lv_virsh() { virsh -q -c "$LV_URI" "$@"; }

lv_cleanup() {
    local d
    for d in "${LV_DOMAINS[@]}"; do
        lv_virsh destroy "$d" >/dev/null 2>&1
        lv_virsh undefine "$d" >/dev/null 2>&1
    done
    if [ -n "$LV_HOOK_LINK" ]; then
        rm -f "$LV_HOOK_LINK"
        [ -z "$vgpu_started_libvirtd" ] && vgpu_libvirtd_reload
    fi
    vgpu_mediator_stop TERM
    [ -z "$vgpu_mediator_pid" ] || kill -KILL "$vgpu_mediator_pid" 2>/dev/null
    # What libvirt probed of the test's emulator copy, named by its path's
    # sha256, and the domains' logs: nothing of the test stays on the host.
    if [ -n "${LV_EMULATOR:-}" ]; then
        rm -f "/var/cache/libvirt/qemu/capabilities/$(printf '%s' "$LV_EMULATOR" |
               sha256sum | cut -d' ' -f1).xml"
    fi
    for d in "${LV_DOMAINS[@]}"; do
        rm -f "/var/log/libvirt/qemu/$d.log"
    done
    vgpu_libvirt_stop
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

lv_vgpuctl() { "$LV_BUILD/vgpuctl" --runtime-dir "$LV_RUN" "$@"; }

lv_mediator_start() {   # [pool letters]
    local pools=${1:-A B} p lines=
    mkdir -p "$LV_RUN"
    for p in $pools; do
        lines+=$(printf '[pool %s]\nbackend=cpu' "$p")$'\n'
    done
    vgpu_mediator_config "$LV_TMP/mediator.conf" "$LV_RUN" "$lines" "socket-group=$LV_QEMU_USER"
    vgpu_mediator_start "$LV_RUN" "$LV_TMP/mediator.conf" "$LV_TMP/mediator.log" ||
        { sed 's/^/# /' "$LV_TMP/mediator.log"; bail "mediator did not start"; }
}

lv_mediator_stop() { vgpu_mediator_stop TERM; }

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

lv_libvirt_start() {
    mkdir -p "$LV_HOOK_DIR"
    vgpu_libvirt_start || bail "cannot start libvirt"
}

lv_libvirt_restart() {  # [command to run while libvirtd is down]
    vgpu_stop_pidfile /run/libvirtd.pid
    [ $# -gt 0 ] && "$@"
    libvirtd -d || bail "cannot restart libvirtd"
    vgpu_wait_until 60 vgpu_libvirt_answers || bail "libvirtd does not answer after a restart"
}

lv_hook_install() {
    LV_HOOK_LINK=$LV_HOOK_DIR/vgpu-test-$$
    ln -sfn "$LV_BUILD/vgpu-libvirt-hook" "$LV_HOOK_LINK"
    vgpu_libvirtd_reload || bail "libvirtd does not answer after SIGHUP"
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
