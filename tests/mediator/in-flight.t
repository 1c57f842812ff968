#!/bin/bash
# A unit runs several requests at once where its backend allows (in-flight=
# in mediator.conf, at most what the backend says).  The test plugin takes 4
# and checks what include/vgpu/backend.h promises, failing any request that
# sees a promise broken (tests/mediator/test-backend.c): a CUDA batch and
# recover() run alone, a slot runs one request at a time.  Here: VECTOR_ADDs
# of many VMs overlap, the unit's busy time is the time anything ran (not the
# sum of their times), the queue's order alone decides what starts (high
# before low, read off the "started #N" of the debug log), a failure amid a
# flood recovers without taking the unit out of service, and in-flight=1
# runs one at a time.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 17

service_us=20000
# config IN_FLIGHT: pool A on the test plugin's GPU 0, every request 20 ms
config() {
    pools="[pool A]
backend=test
gpus=0
service-time-us=$service_us
in-flight=$1"
    write_config "plugin-dir=$build/tests/plugins"
}
# peak UUID: the most requests the unit ever ran at once (the plugin's answer)
peak() {
    "$build/tests/fake-device" --socket "$dev_sock" --uuid "$1" --submit 1 --base $((0xfeed0000 - 1)) |
        grep -o 'result=[0-9]*' | cut -d= -f2
}
unit() { vgpuctl stats --json | json "j['units'][0]['$1']"; }

config 8
start_daemon || bail "daemon with the test plugin did not start"
for n in $(seq 1 10); do
    prio=low; [ "$n" = 10 ] && prio=high
    vgpuctl register "$(uuid_n "$n")" --pool A --priority "$prio" --vm-id "$n" --name "vm$n" \
        >/dev/null || echo "register vm$n failed"
done > "$tmp/register.err"
is "$(cat "$tmp/register.err")" "" "10 VMs registered"
is "$(unit in_flight)" 4 "in-flight=8 is capped at the 4 the plugin allows"
like "$(vgpuctl stats)" $'\n'"0 +test unit 0 +test +A +4 +0 +0"$'\n' \
    "vgpuctl stats shows the unit's in-flight"

# 8 VMs x 10 requests of 20 ms, with CUDA batches (which run alone) from VM 9 amid them.
flood 1 8 10
batches=0
for i in 1 2 3; do
    "$build/tests/window-client" --socket "$dev_sock" --uuid "$(uuid_n 9)" --op cuda --a 65536 \
        > "$tmp/batch$i.out" 2>&1 || batches=$((batches + 1))
done
is "$(flood_sums 1 8)" 80 "80 VECTOR_ADDs of 8 VMs complete with their sums"
is "$batches" 0 "3 CUDA batches amid them complete: each ran alone (the plugin fails one that does not)"
is "$(peak "$(uuid_n 1)")" 4 "the unit ran 4 requests at once, never more"
busy=$(unit busy_us)
requests=$(unit requests)
is "$requests" 84 "the unit counts every request: 80 + 3 batches + 1"
# One at a time they take 84 x 20 ms = 1.68 s; four at a time at least a quarter of the adds.
ok "$([ "$busy" -ge $((80 * service_us / 4)) ] && [ "$busy" -lt $((84 * service_us * 3 / 4)) ]; echo $?)" \
    "busy time counts overlapping requests once: $busy us for 84 requests of $service_us us"

# A failure amid a flood: recover() waits until nothing else runs on the unit.
# The failing request is the high VM's, so it starts beside three others,
# and fails halfway through their time (tests/mediator/test-backend.c).
flood 1 4 40
running_is() { [ "$(vgpuctl stats --json | json "j['total']['running']")" = "$1" ]; }
vgpu_wait_until 10 running_is 4 || diag "the flood did not fill the unit's 4 slots"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$(uuid_n 10)" --submit 1 --base 3735928558 \
    > "$tmp/fail.out"
like "$(cat "$tmp/fail.out")" "error=BACKEND status=BACKEND" "a request the plugin fails ends in BACKEND"
is "$(flood_sums 1 4)" 160 "the 160 requests around it complete"
is "$(grep -cE "taken out of service|ran beside" "$tmp/daemon.log")" 0 \
    "recover() ran alone: the unit stays in service"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$(uuid_n 5)" --submit 1 > "$tmp/after.out"
like "$(cat "$tmp/after.out")" "error=OK" "and serves the next request"

# The queue's order decides what starts: 8 low requests queued first, then 4 high.
vgpuctl pause >/dev/null
fake vm1 --uuid "$(uuid_n 1)" --submit 8 --base 1000 --timeout 30000
vgpu_wait_until 10 queued_is "$(uuid_n 1)" 8 || echo "# the low VM's requests were not queued"
fake vm10 --uuid "$(uuid_n 10)" --submit 4 --base 10000 --timeout 30000
vgpu_wait_until 10 queued_is "$(uuid_n 10)" 4 || echo "# the high VM's requests were not queued"
lines=$(wc -l < "$tmp/daemon.log")
vgpuctl resume >/dev/null
wait_pid 30 "$pid_vm1"; wait_pid 30 "$pid_vm10"
order=$(tail -n +"$((lines + 1))" "$tmp/daemon.log" |
    sed -n "s/.*: ran request [0-9]* of domain '\(vm1\|vm10\)' .*started #\([0-9]*\),.*/\2 \1/p" |
    sort -n | awk '{ printf "%s ", $2 }')
is "$order" "vm10 vm10 vm10 vm10 vm1 vm1 vm1 vm1 vm1 vm1 vm1 vm1 " \
    "with 4 slots free, the 4 high requests start before any of the 8 low ones queued earlier"
stop_daemon

# in-flight=1: one at a time, as a unit ran before.
config 1
start_daemon || bail "daemon with in-flight=1 did not start"
for n in 1 2 3 4; do
    vgpuctl register "$(uuid_n "$n")" --pool A --priority low --vm-id "$n" --name "vm$n" >/dev/null
done
is "$(unit in_flight)" 1 "in-flight=1 gives the unit one slot"
flood 1 4 5
is "$(flood_sums 1 4)" 20 "20 requests of 4 VMs complete"
is "$(peak "$(uuid_n 1)")" 1 "one at a time"
busy=$(unit busy_us)
ok "$([ "$busy" -ge $((20 * service_us)) ]; echo $?)" \
    "busy time is then the sum of the requests' times: $busy us for 21 requests of $service_us us"
stop_daemon
