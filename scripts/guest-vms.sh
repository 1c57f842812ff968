# shellcheck shell=bash
# VMs with vgpu-stub and a mediator to serve them, for the whole-path tests
# (tests/e2e/, through tests/e2e/lib.sh), make demo and make bench.  Source
# it from bash, call gv_setup DIR, and call gv_cleanup on exit (trap).
#
# The mediator is the real vgpu-mediatord with its sockets in DIR/run.  A
# VM is the project's QEMU (build/qemu) with the device on a socket chardev
# to DIR/run/mediator.sock (reconnect=1), booting Debian's kernel and the
# busybox initramfs with vgpu-client (make guest-image-client) plus a small
# agent that runs the shell commands the host sends:
#
#   host -> guest   one line "ID COMMAND" on the VM's ttyS1, a FIFO pair on
#                   the host (DIR/vm-NAME/agent.in, .out)
#   guest -> host   on ttyS0, the file DIR/vm-NAME/serial.log:
#                       ==== vgpu-agent ready ====
#                       >>> ID begin
#                       ...the command's stdout and stderr...
#                       <<< ID status N
#                   "quit" ends the agent and the VM powers off.
#
# Every wait is bounded; a VM that outlives GV_VM_LIMIT seconds is killed.
# GV_DEVICE_PROPS adds properties to the device (e.g. window-size=256M).
# KVM is used where it really boots guests, else TCG (scripts/accel.sh;
# VGPU_TEST_ACCEL=tcg or kvm forces one).

gv_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$gv_top/scripts/accel.sh"
. "$gv_top/scripts/lib.sh"
GV_QEMU=${VGPU_QEMU:-$gv_top/build/qemu/qemu-system-x86_64}
GV_IMAGE=$gv_top/build/guest-image
GV_MEDIATORD=$gv_top/build/vgpu-mediatord
GV_VGPUCTL=$gv_top/build/vgpuctl
GV_VM_LIMIT=${VGPU_VM_LIMIT:-600}       # seconds any one VM may run
GV_BOOT_LIMIT=${VGPU_BOOT_LIMIT:-180}   # seconds until a VM's agent is ready
GV_VM_MEMORY=160                        # MiB: the uncompressed kernel is 66 MB
GV_READY_MARK='==== vgpu-agent ready ===='

gv_dir=
gv_run=
gv_conf=
gv_accel=
gv_kernel=
gv_mediator_status=
declare -gA gv_vm_pid=() gv_vm_fd=()

gv_error() { echo "guest-vms: $*" >&2; }

# The guest's program: read "ID COMMAND" lines from ttyS1, run each.
gv_write_agent() {
    cat >"$1" <<AGENT
#!/bin/sh
# vgpu-agent: runs the commands the host writes to ttyS1 (scripts/guest-vms.sh).
exec 3</dev/ttyS1
stty -echo <&3
echo '$GV_READY_MARK'
while read -r id command <&3; do
    [ "\$command" = quit ] && break
    echo ">>> \$id begin"
    sh -c "\$command" </dev/null 2>&1
    echo "<<< \$id status \$?"
done
AGENT
    chmod 755 "$1"
}

# gv_setup DIR: the mediator's runtime dir, the guests' initramfs (image,
# vgpu-client, agent) and the accelerator, all under DIR.
gv_setup() {
    gv_dir=$1
    gv_run=$gv_dir/run
    gv_conf=$gv_dir/mediator.conf
    mkdir -p "$gv_run" "$gv_dir/agent" || return 1
    [ -x "$GV_QEMU" ] || { gv_error "no QEMU build at $GV_QEMU: run 'make qemu'"; return 1; }
    [ -f "$GV_IMAGE/initramfs-client.cpio.gz" ] ||
        { gv_error "no guest image with vgpu-client: run 'make guest-image-client'"; return 1; }
    if [ ! -x "$GV_MEDIATORD" ] || [ ! -x "$GV_VGPUCTL" ]; then
        gv_error "no $GV_MEDIATORD or $GV_VGPUCTL: run 'make'"
        return 1
    fi
    gv_kernel=$GV_IMAGE/vmlinux
    [ -e "$gv_kernel" ] || gv_kernel=$GV_IMAGE/vmlinuz
    gv_write_agent "$gv_dir/agent/vgpu-test.sh"
    "$gv_top/scripts/guest-image.sh" pack "$gv_dir/agent" "$gv_dir/agent.cpio.gz" || return 1
    cat "$GV_IMAGE/initramfs-client.cpio.gz" "$gv_dir/agent.cpio.gz" >"$gv_dir/initramfs.cpio.gz"
    gv_accel="-accel $(vgpu_accel "$GV_QEMU" "$GV_IMAGE")"
}

gv_vgpuctl() { "$GV_VGPUCTL" --runtime-dir "$gv_run" --timeout 5000 "$@"; }

# gv_vm_field UUID COLUMN: a column of the VM's row in vgpuctl list
# (CONNECTED, QUEUED, RUNNING...).  Read from the text table with awk, not
# through a JSON parser, so that a poll sees fresh values: python's start-up
# alone can outlast a short request.
gv_vm_field() {
    gv_vgpuctl list | awk -v uuid="$1" -v col="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        $0 ~ uuid { print $c }'
}
gv_vm_field_is() { [ "$(gv_vm_field "$1" "$2")" = "$3" ]; }

# The guest command that loads Debian's uio modules (in the image) and
# binds uio_pci_generic to the device by its ids from include/vgpu/regs.h.
gv_bind_uio_command() {
    local vendor device
    vendor=$(sed -n 's/^#define VGPU_PCI_VENDOR_ID *0x\([0-9a-fA-F]*\).*/\1/p' "$gv_top/include/vgpu/regs.h")
    device=$(sed -n 's/^#define VGPU_PCI_DEVICE_ID *0x\([0-9a-fA-F]*\).*/\1/p' "$gv_top/include/vgpu/regs.h")
    echo "insmod /lib/modules/vgpu/uio.ko && insmod /lib/modules/vgpu/uio_pci_generic.ko &&" \
         "echo '$vendor $device' >/sys/bus/pci/drivers/uio_pci_generic/new_id"
}

# gv_mediator_config POOLS [MEDIATOR-LINE...]: write DIR/mediator.conf with
# the [pool X] groups given and extra lines for [mediator].
gv_mediator_config() {
    local pools=$1; shift
    VGPU_MEDIATOR_LOG_LEVEL=${VGPU_MEDIATOR_LOG_LEVEL:-info} \
        vgpu_mediator_config "$gv_conf" "$gv_run" "$pools" "$@"
}

# gv_mediator_start: start vgpu-mediatord on DIR/mediator.conf, its log in
# DIR/mediator.log, and wait until it answers.
gv_mediator_start() {
    vgpu_mediator_start "$gv_run" "$gv_conf" "$gv_dir/mediator.log"
}

# gv_mediator_stop [SIGNAL]: signal the mediator (TERM by default) and wait
# for it; gv_mediator_status gets its exit status (124: still running).
gv_mediator_stop() {
    vgpu_mediator_stop "$@"
    gv_mediator_status=$vgpu_mediator_status
}

# gv_vm_prepare NAME: the VM's files in DIR/vm-NAME/: serial.log (its
# ttyS0), the FIFOs agent.in and agent.out (its ttyS1), opened here for the
# commands.  gv_vm_start uses it; so can another way to start the VM (such
# as libvirt, with <serial type='file'> and <serial type='pipe'>), which
# then gives gv_vm_pid[NAME] the QEMU process id.
gv_vm_prepare() {
    local name=$1 dir=$gv_dir/vm-$1 fd
    mkdir -p "$dir" && mkfifo "$dir/agent.in" "$dir/agent.out" || return 1
    : >"$dir/serial.log"
    echo 1 >"$dir/next-id"
    # Read-write, so that opening never waits for QEMU's end of the FIFO.
    exec {fd}<>"$dir/agent.in"
    gv_vm_fd[$name]=$fd
}

# gv_vm_start NAME UUID [QEMU-ARG...]: boot a VM in the background
# (qemu.log in its directory: QEMU's own output).
gv_vm_start() {
    local name=$1 uuid=$2 dir=$gv_dir/vm-$1
    shift 2
    gv_vm_prepare "$name" || return 1
    # shellcheck disable=SC2086  # gv_accel is two words
    timeout --kill-after=5 "$GV_VM_LIMIT" "$GV_QEMU" $gv_accel -machine q35 -m "$GV_VM_MEMORY" \
        -nodefaults -display none -no-reboot -name "$name" -uuid "$uuid" \
        -pidfile "$dir/qemu.pid" -kernel "$gv_kernel" -initrd "$gv_dir/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 quiet" \
        -serial "file:$dir/serial.log" \
        -chardev "pipe,id=agent,path=$dir/agent" -serial chardev:agent \
        -chardev "socket,id=mediator,path=$gv_run/mediator.sock,reconnect=1" \
        -device "vgpu-stub,chardev=mediator,addr=0x1e${GV_DEVICE_PROPS:+,$GV_DEVICE_PROPS}" \
        "$@" >"$dir/qemu.log" 2>&1 </dev/null &
    gv_vm_pid[$name]=$!
}

gv_vm_running() { [ -n "${gv_vm_pid[$1]:-}" ] && kill -0 "${gv_vm_pid[$1]}" 2>/dev/null; }

# The VM's console, without the serial line's carriage returns.
gv_vm_console() { tr -d '\r' <"$gv_dir/vm-$1/serial.log"; }

gv_vm_has_line() { gv_vm_console "$1" | grep -qxF -- "$2"; }

# gv_vm_wait_ready NAME [SECONDS]: wait until the VM's agent takes commands.
gv_vm_wait_ready() {
    local name=$1 limit=${2:-$GV_BOOT_LIMIT}
    vgpu_wait_until "$limit" gv_vm_has_line_or_gone "$name" "$GV_READY_MARK" &&
        gv_vm_has_line "$name" "$GV_READY_MARK" && return 0
    gv_error "VM $name did not come up; console and QEMU output:"
    tail -n 20 "$gv_dir/vm-$name/serial.log" "$gv_dir/vm-$name/qemu.log" >&2
    return 1
}

gv_vm_has_line_or_gone() { gv_vm_has_line "$1" "$2" || ! gv_vm_running "$1"; }

# gv_vm_send NAME COMMAND: start a shell command (one line) in the VM;
# gv_id gets its id for gv_vm_wait, gv_vm_output and gv_vm_status.  The
# next id is kept in a file, so that commands sent from subshells (as in
# out=$(gv_vm_run ...)) still get distinct ones.
gv_vm_send() {
    local name=$1 command=$2 next=$gv_dir/vm-$1/next-id
    case $command in
    *$'\n'*) gv_error "gv_vm_send: the agent takes one line: '$command'"; return 2 ;;
    esac
    gv_id=$(cat "$next")
    echo $((gv_id + 1)) >"$next"
    printf '%s %s\n' "$gv_id" "$command" >&"${gv_vm_fd[$name]}"
}

gv_vm_done() { gv_vm_console "$1" | grep -q "^<<< $2 status "; }
gv_vm_done_or_gone() { gv_vm_done "$1" "$2" || ! gv_vm_running "$1"; }

# gv_vm_wait NAME ID SECONDS: wait until command ID has finished.
gv_vm_wait() {
    vgpu_wait_until "$3" gv_vm_done_or_gone "$1" "$2" && gv_vm_done "$1" "$2"
}

# The output of command ID, and its exit status ("" before it finished).
gv_vm_output() {
    gv_vm_console "$1" | awk -v id="$2" '
        $0 == ">>> " id " begin" { on = 1; next }
        on && index($0, "<<< " id " status ") == 1 { exit }
        on { print }'
}
gv_vm_status() { gv_vm_console "$1" | sed -n "s/^<<< $2 status \([0-9]*\)$/\1/p"; }

# gv_vm_run NAME SECONDS COMMAND: run a command in the VM and print its
# output; returns its exit status, or 124 when it did not finish in time.
gv_vm_run() {
    gv_vm_send "$1" "$3" || return
    gv_vm_wait "$1" "$gv_id" "$2" || { gv_vm_output "$1" "$gv_id"; return 124; }
    gv_vm_output "$1" "$gv_id"
    return "$(gv_vm_status "$1" "$gv_id")"
}

# gv_vm_stop NAME [SECONDS]: end the agent so that the VM powers off;
# returns QEMU's exit status (0 for a clean power-off), 124 when it had to
# be killed.
gv_vm_stop() {
    local name=$1 limit=${2:-30} status
    [ -n "${gv_vm_pid[$name]:-}" ] || return 0
    gv_vm_send "$name" quit
    vgpu_wait_pid "$limit" "${gv_vm_pid[$name]}"
    status=$?
    gv_vm_forget "$name"
    return "$status"
}

# gv_vm_kill NAME: SIGTERM (QEMU quits at once), SIGKILL after 5 s, to
# QEMU itself too: gv_vm_pid is the timeout(1) around it.
gv_vm_kill() {
    local pid=${gv_vm_pid[$1]} qemu
    kill -TERM "$pid" 2>/dev/null
    vgpu_wait_pid 5 "$pid" >/dev/null
    if [ $? = 124 ]; then
        qemu=$(cat "$gv_dir/vm-$1/qemu.pid" 2>/dev/null)
        kill -KILL "$pid" ${qemu:+"$qemu"} 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
}

# Kill the VM if it still runs and close its agent FIFO.
gv_vm_forget() {
    local fd=${gv_vm_fd[$1]:-}
    gv_vm_running "$1" && gv_vm_kill "$1"
    [ -z "$fd" ] || exec {fd}>&-
    unset "gv_vm_pid[$1]" "gv_vm_fd[$1]"
}

# Stop every VM and the mediator started here (for an EXIT trap).
gv_cleanup() {
    local name
    for name in "${!gv_vm_pid[@]}"; do
        kill -TERM "${gv_vm_pid[$name]}" 2>/dev/null
    done
    for name in "${!gv_vm_pid[@]}"; do
        gv_vm_forget "$name"
    done
    if [ -n "$vgpu_mediator_pid" ]; then
        gv_mediator_stop TERM
        [ -z "$vgpu_mediator_pid" ] || kill -KILL "$vgpu_mediator_pid" 2>/dev/null
    fi
}
