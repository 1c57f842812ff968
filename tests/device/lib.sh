# Shared by the device's shell tests (tests/device/*.t); source it after
# tests/lib/tap.sh.  Gives a private temp dir ($tmp) that is removed on exit,
# starts QEMU processes that are stopped on exit (SIGTERM, then SIGKILL),
# and helpers that never wait without a limit.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QEMU=${VGPU_QEMU:-$top/build/qemu/qemu-system-x86_64}
GUEST_IMAGE=$top/build/guest-image
PROBE=$top/build/tests/device/vgpu-probe
QEMU_LIMIT=${VGPU_QEMU_LIMIT:-300}      # seconds any one QEMU may run

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-device-XXXXXX")
qemu_pids=()

device_cleanup() {
    local pid
    for pid in "${qemu_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${qemu_pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap device_cleanup EXIT

[ -x "$QEMU" ] || bail "no QEMU build at $QEMU: run 'make qemu'"

. "$top/scripts/accel.sh"
. "$top/scripts/lib.sh"

# KVM where the host has a working one, TCG otherwise (scripts/accel.sh).
accel_args() { echo "-accel $(vgpu_accel "$QEMU" "$GUEST_IMAGE")"; }

# start_qemu NAME ARGS...: run QEMU in the background, output in
# $tmp/NAME.log; its pid in $qemu_pid.
start_qemu() {
    local name=$1; shift
    timeout --kill-after=5 "$QEMU_LIMIT" "$QEMU" "$@" >"$tmp/$name.log" 2>&1 &
    qemu_pid=$!
    qemu_pids+=("$qemu_pid")
}

# qmp SOCKET JSON...: one reply line per command.
qmp() {
    python3 "$top/tests/device/qmp.py" "$@"
}

# pci_devices SOCKET: "vvvv:dddd qdev_id" for each device QMP's query-pci
# reports, bridges' buses included.
pci_devices() {
    qmp "$1" '{"execute": "query-pci"}' | python3 -c '
import json, sys
def walk(devices):
    for d in devices:
        print("%04x:%04x %s" % (d["id"]["vendor"], d["id"]["device"], d.get("qdev_id", "")))
        walk(d.get("pci_bridge", {}).get("devices", []))
for bus in json.load(sys.stdin)["return"]:
    walk(bus["devices"])'
}

# peripherals SOCKET: the ids of the devices given with -device ...,id=
peripherals() {
    qmp "$1" '{"execute": "qom-list", "arguments": {"path": "/machine/peripheral"}}' |
        python3 -c '
import json, sys
print(" ".join(sorted(p["name"] for p in json.load(sys.stdin)["return"]
                      if p["type"].startswith("child<"))))'
}
