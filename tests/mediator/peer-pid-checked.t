#!/bin/bash
# SO_PEERCRED: when the registry knows the VM's QEMU pid, only that process
# may connect as the VM.  A connection from another pid gets IDENTITY
# PERMISSION and is closed, also when the pid is set after it connected
# (libvirt's `started` hook runs after QEMU connected).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 10

write_config
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
u2=$(uuid_n 2)
u3=$(uuid_n 3)

# Registered with a pid that is not the device's (this shell's).
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --pid $$ >/dev/null
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 1 --timeout 5000 \
    > "$tmp/wrong.out"
is "$?" 4 "a device whose pid is not the registered one is refused"
is "$(cat "$tmp/wrong.out")" "identity error=PERMISSION pool=- priority=- vm_id=0
closed" "it gets IDENTITY PERMISSION and the mediator closes the connection"
like "$(cat "$tmp/daemon.log")" "device pid [0-9]+ \(uuid $u1\) claims domain 'vm-1', whose registered QEMU is pid $$: refused" \
    "the refusal is logged with both pids and the UUID"

# Connected before the pid is known, then the pid is set to another process.
vgpuctl register "$u2" --pool A --priority high --vm-id 2 >/dev/null
fake before --uuid "$u2" --linger --timeout 10000
vgpu_wait_until 5 grep -q 'error=OK' "$tmp/before.out"
is "$(vgpuctl list --json | json "[v['connected'] for v in j['vms'] if v['vm_id']==2][0]")" 1 \
    "the device is connected while no pid is registered"
is "$(vgpuctl set-pid "$u2" $$)" "pid $$ set; 1 other connection(s) refused" \
    "set-pid reports that it refused the connection"
wait_pid 5 "$pid_before"
is "$(tail -n 2 "$tmp/before.out")" "identity error=PERMISSION pool=- priority=- vm_id=0
closed" "the earlier connection gets IDENTITY PERMISSION and is closed"
is "$(vgpuctl list --json | json "[v['connected'] for v in j['vms'] if v['vm_id']==2][0]")" 0 \
    "it no longer counts as connected"

# The right pid: a waiting device is accepted once registered with its pid.
fake right --uuid "$u3" --submit 2 --timeout 10000
vgpu_wait_until 5 grep -q NOT_REGISTERED "$tmp/right.out"
vgpuctl register "$u3" --pool B --priority low --vm-id 3 --pid "$pid_right" >/dev/null
wait_pid 10 "$pid_right"
is "$wait_status" 0 "the device registered with its own pid runs its requests"
is "$(grep -c 'complete .*error=OK' "$tmp/right.out")" 2 "both completed OK"

# Setting the pid of a connected device to its own pid keeps it.
u4=$(uuid_n 4)
vgpuctl register "$u4" --pool A --priority high --vm-id 4 >/dev/null
fake keep --uuid "$u4" --linger --timeout 10000
vgpu_wait_until 5 grep -q 'error=OK' "$tmp/keep.out"
vgpuctl set-pid "$u4" "$pid_keep" >/dev/null
is "$(vgpuctl list --json | json "[v['connected'] for v in j['vms'] if v['vm_id']==4][0]")" 1 \
    "set-pid to the connected device's own pid keeps it connected"
