#!/bin/bash
# libvgpu's host link: vgpu-client on the host, with VGPU_DEVICE=unix:SOCKET
# and VGPU_VM_UUID, speaks the wire protocol to the real mediator (cpu
# backend) as a QEMU device does.  It gets its VM's identity, exact sums,
# every array operation checked in its own memfd window, and the mediator
# counts exactly its requests; an unregistered VM, a missing UUID, a bad
# window size and a mediator that is not there are refused with a message
# that says so; a mediator killed under running and queued requests ends
# both with MEDIATOR_RESTARTED at once, not at the timeout.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 20

# Pool B is slow (one worker, 10 s a request, the most it allows): the kill
# below must land while one request runs and one waits, on a loaded host too.
pools="[pool A]
backend=cpu
[pool B]
backend=cpu
workers=1
service-time-us=10000000"
write_config
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
u2=$(uuid_n 2)
u3=$(uuid_n 3)
vgpuctl register "$u1" --pool A --priority high --vm-id 7 --name host1 >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 8 --name host2 >/dev/null
vgpuctl register "$u3" --pool B --priority medium --vm-id 9 --name slow >/dev/null

# client UUID ARGS...: the packaged (dynamic) vgpu-client through the host link.
client() {
    local uuid=$1; shift
    LD_LIBRARY_PATH=$build/guest-tools VGPU_DEVICE="unix:$dev_sock" VGPU_VM_UUID=$uuid \
        "$build/guest-tools/vgpu-client" "$@"
}

out=$(client "$u1" info)
is "$(printf '%s\n' "$out" | grep -E '^(pool|priority|vm-id|capabilities|window|wait):' | tr -s ' ' | tr '\n' ';')" \
    "pool: A;priority: high;vm-id: 7;capabilities: 0x00000002 data-window;window: 64 MiB;wait: poll;" \
    "info shows the identity the mediator gave, a 64 MiB window and no interrupt"
is "$(client "$u1" add 2 40) $(client "$u1" add 4294967295 2)" "42 1" \
    "VECTOR_ADD through the mediator's cpu backend is exact, modulo 2^32"
is "$(LD_LIBRARY_PATH=$build/guest-tools VGPU_VM_UUID=$u1 \
      "$build/guest-tools/vgpu-client" -d "unix:$dev_sock" --wait irq add 1 2)" 3 \
    "-d unix:SOCKET selects the host link too, and --wait irq blocks on the socket"

# The array operations in the library's memfd window, checked by the client.
for op in "vadd --type u32 --size 1M" "vadd --type f32 --size 256k --seed 5" \
          "saxpy --size 1M --alpha -2.5" "sum --size 1M" "sgemm --m 64 --n 48 --k 80"; do
    name=${op%% *}
    # shellcheck disable=SC2086
    client "$u1" $op > "$tmp/$name.out" 2>&1
    status=$?
    like "$status $(grep '^check:' "$tmp/$name.out")" "^0 check: +ok, " \
        "$op runs at the mediator and its result checks"
done
is "$(VGPU_WINDOW_SIZE=1M client "$u1" info | grep '^window:' | tr -s ' ')" "window: 1 MiB" \
    "VGPU_WINDOW_SIZE sizes the window the mediator maps"

# Two processes of the same VM at once, each on its own connection.
client "$u2" bench -n 300 > "$tmp/bench1.out" 2>&1 &
b1=$!
client "$u2" bench -n 200 > "$tmp/bench2.out" 2>&1 &
b2=$!
wait "$b1"; s1=$?
wait "$b2"; s2=$?
is "$s1 $s2" "0 0" "two host processes of one VM bench at once"
is "$(vgpuctl stats --json | json "[(v['submitted'], v['completed'], v['errors']) for v in j['vms'] if v['vm_id']==8]")" \
    "[(500, 500, {})]" "the mediator counted exactly their 500 requests, all completed"

# Refusals, each with its reason.
client "$(uuid_n 99)" add 1 2 > "$tmp/unreg.out" 2>&1
status=$?
is "$status" 3 "an unregistered VM: exit 3, as for no device"
like "$(cat "$tmp/unreg.out")" \
    "VM 00000000-0000-4000-8000-000000000099 is not registered at the mediator \(NOT_REGISTERED\): register it first with vgpuctl register" \
    "the message names the VM, NOT_REGISTERED and the way out"
client "" add 1 2 > "$tmp/nouuid.out" 2>&1
status=$?
like "$status $(cat "$tmp/nouuid.out")" "^2 .*set VGPU_VM_UUID to the UUID of a VM registered at the mediator" \
    "no VGPU_VM_UUID: a usage error that says what to set"
VGPU_WINDOW_SIZE=3M client "$u1" add 1 2 > "$tmp/badsize.out" 2>&1
status=$?
like "$status $(cat "$tmp/badsize.out")" "^2 .*VGPU_WINDOW_SIZE=3M: the data window must be a power of two" \
    "a window size that is not a power of two is refused before connecting"
LD_LIBRARY_PATH=$build/guest-tools VGPU_VM_UUID=$u1 "$build/guest-tools/vgpu-client" \
    -d "unix:$tmp/nothing.sock" add 1 2 > "$tmp/nosock.out" 2>&1
status=$?
like "$status $(cat "$tmp/nosock.out")" "^3 .*cannot connect to the mediator's device socket $tmp/nothing.sock: No such file" \
    "no mediator at the path: exit 3 naming the socket"

# The mediator killed with one request running and one queued behind it.
running_queued() {
    [ "$(vgpuctl list --json | json "[(v['running'], v['queued']) for v in j['vms'] if v['uuid']=='$u3']")" = "[(1, 1)]" ]
}
client "$u3" add 5 6 > "$tmp/first.out" 2>&1 &
pid_first=$!
client "$u3" add 7 8 > "$tmp/second.out" 2>&1 &
pid_second=$!
vgpu_wait_until 8 running_queued || diag "not seen running and queued: $(vgpuctl list --json)"
killed_at=$(date +%s%N)
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
wait_pid 10 "$pid_first"
first_status=$wait_status
wait_pid 10 "$pid_second"
second_status=$wait_status
waited_ms=$((($(date +%s%N) - killed_at) / 1000000))
is "$first_status $second_status" "1 1" "both requests end with a device error (exit 1)"
ok "$([ "$waited_ms" -lt 3000 ]; echo $?)" \
    "they end at once when the connection drops (${waited_ms} ms), not at the 60 s timeout"
for name in first second; do
    like "$(cat "$tmp/$name.out")" \
        "unix:$dev_sock: request 1 failed: MEDIATOR_RESTARTED \(11\): .*\(the mediator closed the connection\)" \
        "the $name client's request (one ran, one was queued) ends MEDIATOR_RESTARTED, saying why"
done
