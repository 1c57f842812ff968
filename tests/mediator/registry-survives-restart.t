#!/bin/bash
# A mediator that restarts keeps the VMs that are still running: the
# registry is saved in <runtime-dir>/registry.jsonl after every change and
# replayed at start.  A VM whose QEMU exited meanwhile is not restored, a
# damaged state file does not stop the start, and a device that reconnects
# gets its identity back without anyone registering it again.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 17

write_config
start_daemon || bail "daemon did not start"
sleep 300 & alive=$!; bg_pids+=($alive)
sleep 300 & doomed=$!; bg_pids+=($doomed)
sleep 300 & started=$!; bg_pids+=($started)
vgpuctl register "$(uuid_n 1)" --pool A --priority high --vm-id 1 --name running --pid "$alive" >/dev/null
vgpuctl register "$(uuid_n 2)" --pool B --priority low --vm-id 2 --name exited --pid "$doomed" >/dev/null
vgpuctl register "$(uuid_n 3)" --pool A --priority medium --vm-id 3 --name nopid --gpu-memory 6GiB >/dev/null
vgpuctl register "$(uuid_n 4)" --pool B --priority low --vm-id 4 --name gone >/dev/null
vgpuctl unregister "$(uuid_n 4)" >/dev/null
# libvirt's path: registered at prepare, its pid given at started.
vgpuctl register "$(uuid_n 5)" --pool B --priority high --vm-id 5 --name started >/dev/null
vgpuctl set-pid "$(uuid_n 5)" "$started" >/dev/null
is "$(wc -l < "$run/registry.jsonl")" 4 "the state file holds the four registered VMs"
is "$(vgpuctl metrics | grep -E '^vgpu_(vms_restored|registrations_total|unregistrations_total) ' | tr '\n' ,)" \
    "vgpu_vms_restored 0,vgpu_registrations_total 5,vgpu_unregistrations_total 1," \
    "metrics: five registrations, one unregistration, nothing restored"

stop_daemon
kill "$doomed"; wait "$doomed" 2>/dev/null
start_daemon || bail "daemon did not restart"
listed=$(vgpuctl list --json | json "' '.join('%s:%s:%s:%d:%d' % (v['name'], v['pool'], v['priority'], v['vm_id'], v.get('pid') or 0) for v in j['vms'])")
is "$listed" "running:A:high:1:$alive nopid:A:medium:3:0 started:B:high:5:$started" \
    "after the restart the running VMs (with their pids) and the one without a pid are registered"
is "$(vgpuctl list --json | json "[v['gpu_memory_quota'] for v in j['vms']]")" "[0, 6442450944, 0]" \
    "each VM keeps its GPU memory quota (6 GiB, or none) across the restart"
like "$(cat "$tmp/daemon.log")" "not restoring domain 'exited': its QEMU \(pid $doomed\) has exited" \
    "the VM whose QEMU exited is left out, and the log says why"
like "$(cat "$tmp/daemon.log")" "3 VM\(s\) registered again from $run/registry.jsonl" "the log counts the restored VMs"
is "$(vgpuctl metrics | grep -E '^vgpu_(vms_restored|registrations_total) ' | tr '\n' ,)" \
    "vgpu_vms_restored 3,vgpu_registrations_total 0," \
    "metrics: the restart recovered three VMs, which are not new registrations"
is "$(wc -l < "$run/registry.jsonl")" 3 "the state file now holds the three"
fake impostor --uuid "$(uuid_n 5)" --submit 1
wait_pid 10 "$pid_impostor"
like "$(head -n 1 "$tmp/impostor.out")" "^identity error=PERMISSION" \
    "the pid given by set-pid still holds: another process presenting that UUID gets no identity"

fake nopid --uuid "$(uuid_n 3)" --submit 2 --base 40
wait_pid 10 "$pid_nopid"
is "$wait_status" 0 "a device of a restored VM is served without registering it again"
like "$(head -n 1 "$tmp/nopid.out")" "^identity error=OK pool=A priority=medium vm_id=3" \
    "with the identity it had before the restart"

stop_daemon
printf '{"command":"register","uuid":"not-a-uuid"}\nthis is not json\n' >> "$run/registry.jsonl"
: > "$tmp/daemon.log"
start_daemon
ok $? "a damaged state file does not stop the start"
is "$(grep -cE 'registry.jsonl:[45]: not restored: ' "$tmp/daemon.log")" 2 \
    "each bad line is named in the log"

# A restart whose config lacks pool B: its VMs are not served but kept.
stop_daemon
pools="[pool A]
backend=cpu" write_config
: > "$tmp/daemon.log"
start_daemon || bail "daemon did not start without pool B"
is "$(vgpuctl list --json | json "' '.join(sorted(v['name'] for v in j['vms']))")" "nopid running" \
    "without pool B, its VM is not registered (not served)"
like "$(cat "$tmp/daemon.log")" "registry.jsonl:[0-9]+: kept, not served: .*pool B is not configured" \
    "the log says the VM is kept and why it is not served"
vgpuctl register "$(uuid_n 6)" --pool A --priority low --vm-id 6 --name newcomer >/dev/null
stop_daemon
write_config
start_daemon || bail "daemon did not restart with pool B"
is "$(vgpuctl list --json | json "' '.join(sorted(v['name'] for v in j['vms']))")" \
    "newcomer nopid running started" \
    "with pool B back, its VM is registered again, after a change saved in between"
like "$(vgpuctl list --json | json "[v for v in j['vms'] if v['name'] == 'started'][0]['pool']")" "^B$" \
    "in its own pool"
