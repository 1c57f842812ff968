#!/bin/bash
# vgpuctl: documented exit codes (0 ok, 1 refused, 2 usage, 3 unreachable)
# with one clear message each; register is idempotent for the same identity
# and refuses conflicts with the VM in the way; list shows the registry.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 29

u1=$(uuid_n 1)
u2=$(uuid_n 2)
ctl() { "$build/vgpuctl" --runtime-dir "$run" "$@" 2>&1; }

out=$(ctl ping); status=$?
is "$status:$out" "3:vgpuctl: vgpu-mediatord is not running (no socket at $run/control.sock)" \
    "without a daemon: exit 3 and a clear message"
out=$("$build/vgpuctl" --socket "$tmp/nothing.sock" list 2>&1); status=$?
is "$status" 3 "--socket pointing nowhere: exit 3"

out=$(ctl); is "$?" 2 "no command: exit 2"
like "$out" "no command given" "and says so"
out=$(ctl frobnicate); is "$?" 2 "an unknown command: exit 2"
out=$(ctl register "$u1" --pool A); is "$?:$out" \
    "2:vgpuctl register: needs --pool, --priority and --vm-id (try vgpuctl register --help)" \
    "register without its options: exit 2"
out=$(ctl register not-a-uuid --pool A --priority high --vm-id 1); is "$?" 2 "a bad UUID: exit 2"
out=$(ctl register "$u1" --pool A --priority urgent --vm-id 1); like "$?:$out" \
    "^2:.*--priority \"urgent\" is not low, medium or high" "a bad priority: exit 2, named"
out=$(ctl list extra); is "$?" 2 "an extra argument: exit 2"
for size in 0 2TiB 8GB -1 lots; do
    out=$(ctl register "$u1" --pool A --priority high --vm-id 1 --gpu-memory "$size")
    echo "$?:$out"
done > "$tmp/sizes.out"
is "$(grep -c '^2:vgpuctl register: --gpu-memory ".*" is not a size of 1 byte..1TiB' "$tmp/sizes.out")" 5 \
    "a --gpu-memory of 0, 2TiB, 8GB, -1 or lots: exit 2, named"
like "$("$build/vgpuctl" --help)" "register UUID --pool P --priority PR --vm-id ID" \
    "--help lists the commands"

write_config
start_daemon || bail "daemon did not start"
is "$(ctl register "$u1" --pool A --priority high --vm-id 7 --name web)" \
    "registered web: pool A, priority high, vm-id 7" "register: exit 0"
out=$(ctl register "$u1" --pool A --priority high --vm-id 7 --name web); is "$?:$out" \
    "0:already registered web: pool A, priority high, vm-id 7" "registering the same identity again is fine"
out=$(ctl register "$u2" --pool B --priority low --vm-id 7 --name db); is "$?:$out" \
    "1:vgpuctl: vm-id 7 is already used by domain 'web' (uuid $u1)" \
    "a vm-id used by another UUID: exit 1, naming the domain"
out=$(ctl register "$u2" --pool C --priority low --vm-id 8 --name db); is "$?:$out" \
    "1:vgpuctl: pool C is not configured in $conf (pools: A, B)" "an unconfigured pool: exit 1, naming the config"
out=$(ctl register "$u1" --pool B --priority high --vm-id 7 --name web); like "$?:$out" \
    "^1:vgpuctl: domain 'web' \(uuid $u1\) is already registered with pool A, priority high, vm-id 7" \
    "another identity for a registered UUID: exit 1"
out=$(ctl unregister "$u2"); is "$?:$out" "1:vgpuctl: no domain with uuid $u2 is registered" \
    "unregistering an unknown VM: exit 1"

is "$(ctl register "$u2" --pool B --priority low --vm-id 8 --name db --pid $$ --gpu-memory 8GiB)" \
    "registered db: pool B, priority low, vm-id 8, gpu-memory 8GiB" "register with a GPU memory quota"
out=$(ctl register "$u2" --pool B --priority low --vm-id 8 --name db --pid $$ --gpu-memory 8G)
is "$?:$out" "0:already registered db: pool B, priority low, vm-id 8, gpu-memory 8G" \
    "8G is the same quota as 8GiB"
out=$(ctl register "$u2" --pool B --priority low --vm-id 8 --name db --pid $$ --gpu-memory 4GiB)
like "$?:$out" "^1:vgpuctl: domain 'db' \(uuid $u2\) is already registered with .*, gpu-memory 8GiB: unregister it first$" \
    "another quota for a registered UUID: exit 1, naming the quota it has"
like "$(ctl list | sed -n 1p)" "^VM-ID +NAME +POOL +PRIORITY +UUID +PID +GPU-MEMORY +CONNECTED +QUEUED +RUNNING$" \
    "list has a GPU-MEMORY column"
like "$(ctl list | sed -n 2p)" "^7 +web +A +high +$u1 +- +- +0 +0 +0$" "list shows a VM without pid or quota"
like "$(ctl list | sed -n 3p)" "^8 +db +B +low +$u2 +$$ +8GiB +0 +0 +0$" "list shows a VM with its pid and quota"
is "$(ctl list --json | json "[(v['vm_id'], v['pool'], v['priority'], v['pid'], v['connected'], v['gpu_memory_quota']) for v in j['vms']]")" \
   "[(7, 'A', 'high', 0, 0, 0), (8, 'B', 'low', $$, 0, 8589934592)]" "list --json"
like "$(ctl ping)" "^vgpu-mediatord [0-9.]+ \(pid $daemon_pid\) up [0-9]+ s: 2 VM\(s\), 0 device connection\(s\), 0 queued$" \
    "ping tells version, pid and counts"
out=$(ctl unregister "$u1"); is "$?:$out" "0:unregistered $u1; 0 queued request(s) cancelled" "unregister: exit 0"
is "$(ctl list --json | json "[v['vm_id'] for v in j['vms']]")" "[8]" "the unregistered VM is gone"

# vgpuctl does not talk to a socket in a directory someone else controls.
mkdir -p "$tmp/foreign" "$tmp/open"
chown 65534 "$tmp/foreign"
chmod 1777 "$tmp/open"
"$build/vgpuctl" --runtime-dir "$tmp/foreign" ping > "$tmp/foreign.out" 2>&1
like "$?:$(cat "$tmp/foreign.out")" "^[1-9][0-9]*:.*not connecting to $tmp/foreign/control.sock: runtime-dir $tmp/foreign belongs to uid 65534" \
    "a runtime dir owned by another (non-system) user is not trusted"
"$build/vgpuctl" --runtime-dir "$tmp/open" ping > "$tmp/open.out" 2>&1
like "$?:$(cat "$tmp/open.out")" "^[1-9][0-9]*:.*runtime-dir $tmp/open is writable by every user" \
    "a world-writable runtime dir is not trusted"
