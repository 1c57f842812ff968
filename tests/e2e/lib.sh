# shellcheck shell=bash
# Shared by the whole-path tests (tests/e2e/*.t); source after
# tests/lib/tap.sh.  Each test gets a private temp dir ($tmp) with the
# mediator's runtime dir, VMs and mediator started through
# scripts/guest-vms.sh (gv_*), all stopped on exit, and the dir removed
# (KEEP_TMP=1 keeps it).

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-e2e.XXXXXX")
. "$top/scripts/guest-vms.sh"

# A failed check makes the cleanup show what the VMs and the mediator said.
e2e_failed=0
eval "tap_$(declare -f ok)"
ok() { tap_ok "$@" || { e2e_failed=1; return 1; }; }

e2e_cleanup() {
    [ "$e2e_failed" = 0 ] || show_logs
    gv_cleanup
    if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap e2e_cleanup EXIT

gv_setup "$tmp" || bail "cannot set up the VMs (see above)"
diag "accelerator: $gv_accel; kernel: ${gv_kernel##*/}"

vgpuctl() { gv_vgpuctl "$@"; }

uuid_n() { printf '00000000-0000-4000-8000-%012d' "$1"; }

# json EXPR: evaluate a Python expression over the JSON on stdin (as j).
json() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# client_json EXPR: the same over the last line of vgpu-client --json output
# (the agent's output also holds the client's diagnostics from stderr).
client_json() { grep '^{' | tail -n 1 | json "$1"; }

vm_field() { gv_vm_field "$@"; }
vm_field_is() { gv_vm_field_is "$@"; }

# Host CLOCK_MONOTONIC in ns, the clock of the device's TIMESTAMP.
monotonic_ns() { python3 -c 'import time; print(time.monotonic_ns())'; }

# A guest command that waits (up to 10 s) until the device's identity is
# there ("true") or gone ("false"): the mediator's IDENTITY reaches the
# device a moment after vgpuctl returns.
await_identity() {
    echo "for i in \$(seq 100); do vgpu-client --json info | grep -q '\"registered\":$1' && break;" \
         "sleep 0.1; done"
}

# boot_all LIMIT NAME...: wait until every named VM takes commands.
boot_all() {
    local limit=$1 name; shift
    for name in "$@"; do
        gv_vm_wait_ready "$name" "$limit" || return 1
    done
}

# What the VMs and the mediator said (the end of each log).
show_logs() {
    local f
    for f in "$tmp"/vm-*/serial.log "$tmp"/vm-*/qemu.log "$tmp/mediator.log"; do
        [ -s "$f" ] && diag "${f#"$tmp"/}:" "$(tr -d '\r' <"$f" | tail -n 30)"
    done
    return 0
}

# e2e_cuda_layer DIR GUEST_DIR FILE...: an initramfs layer, DIR.cpio.gz,
# that gives the guest (busybox, no libc) the files in GUEST_DIR/bin, the
# guest's libcudart.so.13 and libvgpu in GUEST_DIR/lib, and the system
# libraries the loader resolves for the programs here (libc, libstdc++...).
e2e_cuda_layer() {
    local layer=$1 guest=$2 cudart=$top/build/guest-tools/cudart/libcudart.so.13
    local libvgpu=$top/build/guest-tools/libvgpu.so.0 f lib
    shift 2
    for f in "$cudart" "$libvgpu" "$@"; do
        [ -e "$f" ] || { echo "no $f" >&2; return 1; }
    done
    mkdir -p "$layer$guest/bin" "$layer$guest/lib" "$layer/lib64" "$layer/lib/x86_64-linux-gnu"
    cp "$@" "$layer$guest/bin/" && cp "$cudart" "$layer$guest/lib/" &&
        cp -L "$libvgpu" "$layer$guest/lib/" || return 1
    for f in "$@"; do
        LD_LIBRARY_PATH=$layer$guest/lib ldd "$f" 2>/dev/null |
            awk '$2 == "=>" && $3 ~ /^\// {print $3}'
    done | sort -u | while read -r lib; do
        case $lib in
        "$layer"/*) ;;
        *) cp -L "$lib" "$layer/lib/x86_64-linux-gnu/" ;;
        esac
    done
    cp -L /lib64/ld-linux-x86-64.so.2 "$layer/lib64/" &&
        "$top/scripts/guest-image.sh" pack "$layer" "$layer.cpio.gz"
}
