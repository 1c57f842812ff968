#!/bin/bash
# The guest packages in a booted Debian 12 guest with udev
# (scripts/guest-rootfs.sh), on the project's QEMU with the device and the
# build's mediator: right after docs/install.md's apt command, with no
# reboot and no udevadm by hand, the device's sysfs files and /dev/uio0
# belong to group vgpu, the device is bound to uio_pci_generic, and a user
# added to the group computes in a new login: registers, a request, an
# interrupt wait, an array operation in the data window; a user outside the
# group gets Permission denied.  Where the CUDA toolkit built
# vgpu-guest-cuda: installed with docs/install.md's command, it is the
# libcudart.so.13 an unchanged CUDA program (tests/cuda/vector-add, nvcc
# -cudart shared) loads, which reports the cpu pool's "no device".
#
# Costs: the root file system is built once per machine (debootstrap, about
# a minute); the debs once per tree (tests/packaging/lib.sh); the boot, the
# install and the checks about 1.5 minutes under TCG.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../packaging/lib.sh"
top=$PKG_TOP
. "$top/scripts/lib.sh"
. "$top/scripts/accel.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-guest-udev.XXXXXX")
qemu_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
    vgpu_mediator_stop TERM
    if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
QEMU=$top/build/qemu/qemu-system-x86_64
IMAGE=$top/build/guest-image
UUID=6f1c2b3a-4d5e-4f60-8172-93a4b5c6d7e9
LIMIT=420               # seconds for the boot, the install and the checks under TCG

PKG_LOG=$tmp/build.log pkg_debs
built=$?
cuda=$(ls "$PKG_DEBS"/guest/vgpu-guest-cuda_*.deb 2>/dev/null)
if [ -n "$cuda" ]; then plan 19; else plan 16; fi
ok $built "the debs are built" || diag "$(tail -n 20 "$tmp/build.log")"
[ -n "$cuda" ] || diag "no vgpu-guest-cuda (no CUDA toolkit here): its three checks are left out"
"$top/scripts/guest-rootfs.sh" build --image "$IMAGE" --out "$tmp/rootfs" >"$tmp/rootfs.log" 2>&1
ok $? "the Debian guest with udev is built (or reused)" || diag "$(tail -n 20 "$tmp/rootfs.log")"

# The guest's part: the packages as docs/install.md installs them, then
# what a user sees, one "name: value" line each.
mkdir -p "$tmp/layer/debs" "$tmp/layer/cuda"
cp "$PKG_DEBS"/guest/libvgpu0_*.deb "$PKG_DEBS"/guest/vgpu-guest-tools_*.deb "$tmp/layer/debs/"
pkg_doc_block "$top/docs/install.md" guest-install-apt |
    sed 's/^apt install /DEBIAN_FRONTEND=noninteractive apt-get install -y -q /' > "$tmp/install.sh"
if [ -n "$cuda" ]; then
    cp "$cuda" "$top/build/tests/cuda/vector-add" "$tmp/layer/cuda/"
    pkg_doc_block "$top/docs/install.md" guest-install-cuda |
        sed 's/^apt install /DEBIAN_FRONTEND=noninteractive apt-get install -y -q /' \
        > "$tmp/install-cuda.sh"
fi
{
    cat <<'GUEST'
#!/bin/sh
dev=
for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x5647 ] && dev=$d
done
echo "device: ${dev:-none}"
useradd -m -s /bin/sh alice
useradd -m -s /bin/sh bob
echo "before: $(stat -c '%G %a' "$dev/resource0")"
cd /debs
GUEST
    echo "( set -e"
    cat "$tmp/install.sh"
    echo ") >/tmp/install.log 2>&1"
    cat <<'GUEST'
echo "install: $?"
tail -n 5 /tmp/install.log | sed 's/^/install-log: /'
usermod -aG vgpu alice
for f in resource0 resource2 config; do echo "$f: $(stat -c '%G %a' "$dev/$f")"; done
echo "driver: $(basename "$(readlink "$dev/driver")")"
echo "uio: $(stat -c '%G %a' /dev/uio0 2>&1)"
su - alice -c 'vgpu-client info' 2>&1 | sed 's/^/alice-info: /'
echo "alice-add: $(su - alice -c 'vgpu-client add 2 40' 2>&1)"
echo "alice-irq: $(su - alice -c 'vgpu-client --wait irq add 3 4' 2>&1)"
echo "alice-vadd: $(su - alice -c 'vgpu-client vadd --size 64k' 2>&1 | grep '^check:')"
echo "bob-add: $(su - bob -c 'vgpu-client add 2 40' 2>&1)"
GUEST
    if [ -n "$cuda" ]; then
        echo "cd /cuda && ( set -e"
        cat "$tmp/install-cuda.sh"
        echo ") >/tmp/install-cuda.log 2>&1"
        cat <<'GUEST'
echo "cuda-install: $?"
echo "cuda-lib: $(ldconfig -p | grep 'libcudart.so.13 ' | head -n 1 | sed 's/.*=> //')"
echo "alice-cuda: $(su - alice -c '/cuda/vector-add 1024' 2>&1 | head -n 1)"
GUEST
    fi
} > "$tmp/layer/vgpu-test.sh"
chmod 755 "$tmp/layer/vgpu-test.sh"
"$top/scripts/guest-image.sh" pack "$tmp/layer" "$tmp/layer.cpio.gz" || bail "cannot pack the test layer"
cat "$tmp/rootfs/rootfs.cpio" "$tmp/layer.cpio.gz" > "$tmp/initrd"

mkdir -p "$tmp/run"
vgpu_mediator_config "$tmp/mediator.conf" "$tmp/run" "$(printf '[pool A]\nbackend=cpu')"
vgpu_mediator_start "$tmp/run" "$tmp/mediator.conf" "$tmp/mediator.log" || bail "the mediator did not start"
"$VGPU_BUILD/vgpuctl" --runtime-dir "$tmp/run" register "$UUID" --name udev-guest --pool A \
    --priority high --vm-id 7 >/dev/null || bail "vgpuctl register failed"

kernel=$IMAGE/vmlinux
[ -f "$kernel" ] || kernel=$IMAGE/vmlinuz
accel=$(vgpu_accel "$QEMU" "$IMAGE")
timeout --kill-after=5 "$LIMIT" "$QEMU" -accel "$accel" -machine q35 -m 1536 -smp 1 \
    -nodefaults -display none -no-reboot -uuid "$UUID" \
    -kernel "$kernel" -initrd "$tmp/initrd" -append "console=ttyS0 rdinit=/init panic=-1 quiet" \
    -serial "file:$tmp/console" \
    -chardev "socket,id=mediator,path=$tmp/run/mediator.sock,reconnect=1" \
    -device vgpu-stub,chardev=mediator,addr=0x1e >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!
ended() { grep -q '^==== vgpu-test end: status' "$tmp/console" 2>/dev/null; }
vgpu_wait_until "$LIMIT" ended
ok $? "the guest boots with udev, installs and runs the checks (accelerator $accel)" ||
    diag "$(tr -d '\r' <"$tmp/console" 2>/dev/null | tail -n 30)" "$(tail -n 5 "$tmp/qemu.log")"
out=$(tr -d '\r' <"$tmp/console" 2>/dev/null)
line() { sed -n "s/^$1: //p" <<<"$out" | head -n 1; }

is "$(line install)" 0 "docs/install.md's apt command installs libvgpu0 and vgpu-guest-tools" ||
    diag "$(sed -n 's/^install-log: //p' <<<"$out")"
is "$(line before)" "root 600" "before, resource0 is root's alone"
is "$(line resource0)" "vgpu 660" "after the install, group vgpu may use resource0 (the registers)"
is "$(line resource2)" "vgpu 660" "and resource2 (the data window)"
is "$(line config)" "vgpu 660" "and config (re-enabling INTx)"
is "$(line driver)" uio_pci_generic "the device is bound to uio_pci_generic"
is "$(line uio)" "vgpu 660" "and /dev/uio0 belongs to group vgpu"
is "$(sed -n 's/^alice-info: \(pool\|priority\|vm-id\): *//p' <<<"$out" | tr '\n' ' ')" "A high 7 " \
    "a user added to group vgpu sees the device's identity in a new login"
like "$(sed -n 's/^alice-info: //p' <<<"$out")" "wait: +irq" "and auto waits on the interrupt"
is "$(line alice-add)" 42 "and computes (2 + 40)"
is "$(line alice-irq)" 7 "also waiting on the interrupt (3 + 4)"
like "$(line alice-vadd)" "^check: +ok" "and runs an array operation in the data window"
like "$(line bob-add)" "Permission denied" "a user outside the group gets Permission denied"
if [ -n "$cuda" ]; then
    is "$(line cuda-install)" 0 "docs/install.md's command installs vgpu-guest-cuda"
    is "$(line cuda-lib)" /lib/x86_64-linux-gnu/libcudart.so.13 \
        "the loader's cache has its libcudart.so.13, nothing else set"
    like "$(line alice-cuda)" "^libcudart \(vgpu-stub\): cudaGetDeviceCount: no CUDA device: the host answered cudaErrorNoDevice" \
        "an unchanged CUDA program of alice's loads it and hears the cpu pool's no device"
fi
