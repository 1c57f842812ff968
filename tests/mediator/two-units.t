#!/bin/bash
# A pool over two GPUs (the test plugin's units 0 and 1; no host lent so far
# has two real GPUs): requests of many VMs spread over both, each unit's
# work shows in vgpuctl stats, and a unit that breaks (its recover() fails,
# as a GPU that cannot be reset) leaves service while the other serves the
# pool on, with no request lost.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 9

service_us=10000
pools="[pool A]
backend=test
gpus=0,1
service-time-us=$service_us"
write_config "plugin-dir=$build/tests/plugins"
start_daemon || bail "daemon with the test plugin did not start"
for n in $(seq 1 8); do
    vgpuctl register "$(uuid_n "$n")" --pool A --priority low --vm-id "$n" --name "vm$n" \
        >/dev/null || echo "register vm$n failed"
done > "$tmp/register.err"
is "$(cat "$tmp/register.err")" "" "8 VMs registered"
units() { vgpuctl stats --json | json "' '.join('%s:%d' % (u['name'], u['requests']) for u in j['units'])"; }
is "$(units)" "test unit 0:0 test unit 1:0" "pool A has two units"


flood 1 8 20
is "$(flood_sums 1 8)" 160 "160 requests of 8 VMs complete with their sums"
read -r u0 u1 <<< "$(vgpuctl stats --json | json "' '.join(str(u['requests']) for u in j['units'])")"
is "$((u0 + u1))" 160 "the two units ran them all ($u0 and $u1)"
# 160 requests of 10 ms, 4 at a time per unit: one unit alone would need 0.4 s of them
ok "$([ "$u0" -ge 40 ] && [ "$u1" -ge 40 ]; echo $?)" \
    "each unit ran at least a quarter of them: the pool's work spread over both"

# Unit 0 or 1 breaks under load; the other serves the pool on.
flood 1 4 20
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$(uuid_n 5)" --submit 1 \
    --base $((0xdead0000 - 1)) > "$tmp/break.out"
like "$(cat "$tmp/break.out")" "error=BACKEND status=BACKEND" "the request that breaks a unit ends in BACKEND"
is "$(flood_sums 1 4)" 80 "the 80 requests around it all complete with their sums"
like "$(cat "$tmp/daemon.log")" "error: test unit [01] taken out of service: recovery failed: test unit [01] cannot be reset" \
    "the broken unit leaves service, logged with why"
flood 5 8 10
is "$(flood_sums 5 8)" 40 "the pool's next 40 requests complete on the other unit"
stop_daemon
