#!/bin/bash
# make demo: three VMs share one vgpu-mediatord.  It starts the mediator
# (cpu backend, pools A and B) in a private directory and three VMs with
# the vgpu-stub device (high and low priority in pool A, medium in pool B),
# runs requests in each and prints the results, shows the priority rule at
# work, each VM's latency and the mediator's stats, and stops everything it
# started.  docs/demo.md explains each step.
#
# Where libvirt is usable (root, the libvirt daemon packages) the VMs take
# the path a user takes: libvirt domains given the device with `vgpuctl
# attach`, started with `virsh start`, registered by the hook (installed
# from the build for the demo's time; libvirtd and virtlogd started if they
# do not run), stopped with `virsh destroy`.  Elsewhere QEMU boots them
# directly and `vgpuctl register` does the hook's work.
#
#   scripts/demo.sh            (make demo builds what it needs first)
#   VGPU_DEMO_LIBVIRT=no       boot QEMU directly even where libvirt is usable
#                   =yes       fail where libvirt is not usable (default: auto)
#   VGPU_DEMO_KEEP=1           keep the directory with the logs
#   VGPU_TEST_ACCEL=tcg|kvm    force the accelerator (default: KVM if it works)
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/guest-vms.sh"
. "$top/scripts/libvirt-vms.sh"

BOOT_LIMIT=180          # seconds for the VMs to boot
COMMAND_LIMIT=60        # seconds for one command in a VM
REGISTER_LIMIT=10       # seconds for the hook's started to give the mediator QEMU's pid
SERVICE_US_A=20000      # pool A: each request takes 20 ms (a GPU kernel's time)
BENCH_A=50              # bench requests in pool A (about 1 s at 20 ms each)
BENCH_B=1000            # bench requests in pool B (no service time)

# name pool priority vm-id
VMS="web A high 1
batch A low 2
ml B medium 3"

fail() { echo "demo: $*" >&2; exit 1; }

started=$(date +%s)
use_libvirt=
step_no=0
step_total=6
echo "vgpu-stub demo: three VMs share the host's accelerator through vgpu-mediatord"
case ${VGPU_DEMO_LIBVIRT:-auto} in
auto)
    if lvm_usable; then
        use_libvirt=1
    else
        echo "libvirt is not usable here ($lvm_reason): QEMU boots the VMs directly; vgpuctl register does the hook's work."
    fi ;;
yes) lvm_usable || fail "VGPU_DEMO_LIBVIRT=yes, but libvirt is not usable here: $lvm_reason"
     use_libvirt=1 ;;
no) echo "VGPU_DEMO_LIBVIRT=no: QEMU boots the VMs directly; vgpuctl register does the hook's work." ;;
*) fail "VGPU_DEMO_LIBVIRT must be auto, yes or no, not '$VGPU_DEMO_LIBVIRT'" ;;
esac
if [ -n "$use_libvirt" ]; then
    lvm_lock || fail "another make demo is using libvirt on this host; wait for it to finish"
    step_total=8
fi

demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-demo.XXXXXX") || fail "cannot make a temporary directory"
# libvirt's QEMU user reaches the consoles, FIFOs and the mediator's socket.
[ -z "$use_libvirt" ] || chmod 755 "$demo_dir"
status=1

step() {
    step_no=$((step_no + 1))
    printf '\n[%d/%d] %s\n' "$step_no" "$step_total" "$*"
}
say() { printf '      %s\n' "$@"; }
indent() { sed 's/^/      /'; }
uuid_of() { printf '6f1c2a3b-0000-4d5e-8f90-%012d' "$1"; }
vm_column() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' <<<"$VMS"; }   # name column
vm_uuid() { uuid_of "$(vm_column "$1" 4)"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

demo_cleanup() {
    lvm_cleanup
    gv_cleanup
    if [ "$status" = 0 ] && [ -z "${VGPU_DEMO_KEEP:-}" ]; then
        rm -rf "$demo_dir"
    else
        echo "Logs (mediator, each VM's console and QEMU output) are in $demo_dir"
    fi
}
trap demo_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# in_vm NAME COMMAND: show and run a command in a VM, with its output.
in_vm() {
    printf '      %s$ %s\n' "$1" "$2"
    gv_vm_run "$1" "$COMMAND_LIMIT" "$2" | indent
    return "${PIPESTATUS[0]}"
}

gv_setup "$demo_dir" || fail "cannot set up (run 'make demo', which builds what is missing)"
echo "QEMU:  $GV_QEMU ($gv_accel)"
echo "guest: $(sed -n 's/^kernel //p' "$GV_IMAGE/key"), busybox and the static vgpu-client"
echo "work:  $demo_dir${use_libvirt:+ (DIR below)}"
names=$(cut -d' ' -f1 <<<"$VMS")

step "Start vgpu-mediatord: cpu backend, pools A and B with one lane each"
mediator_lines=()
[ -z "$use_libvirt" ] || mediator_lines=("socket-group=$LVM_QEMU_USER")
gv_mediator_config "[pool A]
backend=cpu
workers=1
service-time-us=$SERVICE_US_A
[pool B]
backend=cpu
workers=1" "${mediator_lines[@]}"
say "Pool A's requests take $((SERVICE_US_A / 1000)) ms each (service-time-us, standing in for a GPU" \
    "kernel), so that its two VMs queue behind each other; pool B's take no time." \
    "config: $gv_conf"
[ -z "$use_libvirt" ] ||
    say "socket-group=$LVM_QEMU_USER lets libvirt's QEMU connect (the packages use group vgpu)." \
        "Its sockets are in DIR/run, not /run/vgpu: the vgpuctl commands below add" \
        "--runtime-dir DIR/run (shown only where it matters)."
gv_mediator_start || fail "the mediator did not start"
say "$(gv_vgpuctl ping)"

# The libvirt path: define, attach and start the domains; the hook
# registers them.
libvirt_start_vms() {
    local name domain begin probed

    step "libvirt: the daemons, the hook, the emulator"
    begin=$(date +%s%N)
    lvm_libvirt_start ||
        fail "libvirt cannot be used (VGPU_DEMO_LIBVIRT=no make demo runs without it)"
    lvm_hook_install || fail "cannot install the hook for libvirtd"
    say "(libvirt ready after $(ms_since "$begin") ms)"
    lvm_qemu_install || fail "cannot copy the QEMU build and the guest kernel into $demo_dir"
    say "The emulator: a copy of the QEMU build in DIR/libvirt, where libvirt's QEMU user can" \
        "run it (the packages install it as /usr/libexec/vgpu/qemu/bin/qemu-system-x86_64)."

    step "Define the domains and give each the device: vgpuctl attach"
    say "From the guest image (scripts/guest-domain.sh): ttyS0 to DIR/vm-NAME/serial.log," \
        "ttyS1 on the FIFOs DIR/vm-NAME/agent.in/.out, where the guest's agent reads commands."
    probed=
    while read -r name pool prio id; do
        begin=$(date +%s%N)
        lvm_define "$name" "$(uuid_of "$id")" || fail "cannot define the domain for $name"
        # The first define of a new emulator makes libvirt probe it.
        [ -n "$probed" ] || say "(the first define made libvirt probe the new emulator: $(ms_since "$begin") ms)"
        probed=1
        lvm_attach "$name" "$pool" "$prio" "$id" || fail "vgpuctl attach $(lvm_domain "$name") failed"
    done <<<"$VMS"
    domain=$(lvm_domain web)
    say "" "What attach wrote (docs/libvirt.md explains it):"
    lvm_show "virsh metadata $domain --uri urn:vgpu-stub:libvirt:1"
    lvm_virsh metadata "$domain" --uri urn:vgpu-stub:libvirt:1 | indent
    lvm_show "virsh dumpxml $domain | grep qemu:arg"
    lvm_virsh dumpxml "$domain" | grep 'qemu:arg' | sed 's/^ *//' | indent
    say "" "Nothing is registered yet: the hook registers a domain when it starts."
    lvm_show "vgpuctl list"
    gv_vgpuctl list | indent

    step "Start the domains: virsh start; the hook registers each with QEMU's pid"
    begin=$(date +%s%N)
    for name in $names; do
        lvm_start "$name" || fail "virsh start $(lvm_domain "$name") failed"
    done
    say "($(ms_since "$begin") ms for the three)"
    for name in $names; do
        vgpu_wait_until "$REGISTER_LIMIT" gv_vm_field_is "$(vm_uuid "$name")" PID "${gv_vm_pid[$name]}" ||
            fail "the hook did not register $(lvm_domain "$name") with QEMU's pid ${gv_vm_pid[$name]}"
    done
    lvm_show "vgpuctl list"
    gv_vgpuctl list | indent
    for name in $names; do
        domain=$(lvm_domain "$name")
        say "$domain: QEMU's pid ${gv_vm_pid[$name]} ($LVM_STATE_DIR/$domain.pid) is the one registered"
    done
}

# The direct path: vgpuctl register, then QEMU with -device vgpu-stub.
direct_start_vms() {
    local name

    step "Register the VMs (what the libvirt hook does when a domain starts)"
    while read -r name pool prio id; do
        say "vgpuctl register $(uuid_of "$id") --pool $pool --priority $prio --vm-id $id --name $name"
        gv_vgpuctl register "$(uuid_of "$id")" --pool "$pool" --priority "$prio" --vm-id "$id" \
            --name "$name" >/dev/null || fail "register $name failed"
    done <<<"$VMS"
    gv_vgpuctl list | indent

    step "Boot the VMs: QEMU with -device vgpu-stub, in parallel"
    for name in $names; do
        gv_vm_start "$name" "$(vm_uuid "$name")"
    done
}

if [ -n "$use_libvirt" ]; then
    libvirt_start_vms
else
    direct_start_vms
fi
boot_start=$(date +%s%N)
for name in $names; do
    gv_vm_wait_ready "$name" "$BOOT_LIMIT" || fail "VM $name did not boot"
    say "$name is up after $(ms_since "$boot_start") ms"
done

step "Requests from each VM: its identity, then VECTOR_ADD (the sum wraps at 2^32)"
for name in $names; do
    [ "$name" = "${names%%$'\n'*}" ] || echo
    in_vm "$name" "vgpu-client info" || fail "info failed in $name"
    in_vm "$name" "vgpu-client add 2 40" || fail "add failed in $name"
    in_vm "$name" "vgpu-client add 4294967295 1" || fail "add failed in $name"
done

step "Priority: pool A's VMs both wait for its lane"
say "vgpuctl pause holds dispatch; batch (low) submits first, then web (high);" \
    "ml (pool B) submits too.  Then vgpuctl resume."
gv_vgpuctl pause >/dev/null
order="batch web ml"
declare -A id_of
for name in $order; do
    gv_vm_send "$name" "vgpu-client --json add 1 1"
    id_of[$name]=$gv_id
    # Wait until the mediator has it queued, so that arrival is this order.
    vgpu_wait_until 30 gv_vm_field_is "$(vm_uuid "$name")" QUEUED 1 ||
        fail "$name's request did not reach the queue"
done
gv_vgpuctl list | indent
gv_vgpuctl resume >/dev/null
say "" "Completion times (the device's TIMESTAMP register, host clock):"
for name in $order; do
    gv_vm_wait "$name" "${id_of[$name]}" "$COMMAND_LIMIT" || fail "$name's request did not complete"
    stamp=$(gv_vm_output "$name" "${id_of[$name]}" | sed -n 's/.*"timestamp_ns":\([0-9]*\).*/\1/p')
    echo "$stamp $name"
done | sort -n | awk -v vms="$VMS" '
    BEGIN { n = split(vms, lines, "\n"); for (i = 1; i <= n; i++) { split(lines[i], f, " ");
            pool[f[1]] = f[2]; prio[f[1]] = f[3] } }
    NR == 1 { first = $1 }
    { printf "      +%6.1f ms  %-6s (pool %s, %s)\n", ($1 - first) / 1e6, $2, pool[$2], prio[$2] }'
say "In pool A, web (high) ran before batch (low) although it asked later;" \
    "ml ran at once on pool B's own lane."

step "Latency seen in each guest: vgpu-client bench, one VM at a time"
for name in $names; do
    pool=$(vm_column "$name" 2)
    count=$BENCH_A
    [ "$pool" = B ] && count=$BENCH_B
    gv_vm_run "$name" "$COMMAND_LIMIT" "vgpu-client --json bench -n $count" >"$demo_dir/bench-$name.json" ||
        fail "bench failed in $name"
    grep '^{' "$demo_dir/bench-$name.json" | tail -n 1 | sed -E \
        's/.*"count":([0-9]+).*"p50_us":([0-9.]+).*"p90_us":([0-9.]+).*"p99_us":([0-9.]+).*/\1 \2 \3 \4/' |
        awk -v n="$name" -v p="$pool" '{ printf "      %-6s pool %s  %5d requests  p50 %9.1f us  p90 %9.1f us  p99 %9.1f us\n",
                                         n, p, $1, $2, $3, $4 }'
done
say "Pool A's latency is its $((SERVICE_US_A / 1000)) ms service time plus the path; pool B's is the" \
    "path alone: guest MMIO, QEMU, the socket, the mediator and back (TCG makes the" \
    "guest side slow; make bench compares it with the host-side floor)."
echo
say "The mediator's accounting (vgpuctl stats):"
gv_vgpuctl stats | indent

if [ -n "$use_libvirt" ]; then
    step "Stop the domains: virsh destroy; the hook unregisters each"
    for name in $names; do
        lvm_destroy "$name" "$(vm_uuid "$name")" ||
            fail "$(lvm_domain "$name") is still registered after virsh destroy"
    done
    lvm_show "vgpuctl list"
    gv_vgpuctl list | indent
    say "The registry is empty again: the hook's release unregistered each domain."
    for name in $names; do
        lvm_undefine "$name" || fail "virsh undefine $(lvm_domain "$name") failed"
    done
    echo
    echo "Putting libvirt back as the demo found it, and stopping the mediator."
    lvm_cleanup show
else
    echo
    echo "Stopping the VMs (their agents end and they power off) and the mediator."
    for name in $names; do
        gv_vm_stop "$name" 30 || echo "demo: $name did not power off by itself; it was stopped" >&2
    done
fi
gv_mediator_stop TERM
[ "$gv_mediator_status" = 0 ] || echo "demo: the mediator exited with status $gv_mediator_status" >&2
status=0
echo "Demo done in $(( $(date +%s) - started )) s."
