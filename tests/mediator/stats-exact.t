#!/bin/bash
# `vgpuctl stats` counts exactly what the devices sent: per VM and per pool,
# submitted, completed, errors by code (bad requests, a full per-VM queue,
# unregistered devices), queue wait and execution time counts and
# magnitudes, per unit requests; the table, --json and the Prometheus
# metrics agree.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 19

cap=16
service_us=3000          # every request takes at least this long
pools="[pool A]
backend=cpu
service-time-us=$service_us
[pool B]
backend=cpu
service-time-us=$service_us"
write_config "vm-queue-limit=$cap"
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1); u2=$(uuid_n 2); u3=$(uuid_n 3)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name one >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 2 --name two >/dev/null
vgpuctl register "$u3" --pool B --priority medium --vm-id 3 --name three >/dev/null

good1=10 bad1=2          # VM 1: good requests and requests with a bad version (within the cap)
sent2=20                 # VM 2: pipelined while dispatch is paused: 4 over its cap
good3=5                  # VM 3, pool B
unreg=2                  # from a device whose VM is not registered

"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit $good1 --bad $bad1 \
    > "$tmp/one.out" || echo "vm1 failed"
now_us() { echo $(( $(date +%s%N) / 1000 )); }
paused_at=$(now_us)
vgpuctl pause >/dev/null
fake two --uuid "$u2" --submit $sent2 --timeout 10000
vgpu_wait_until 10 queued_is "$u2" $cap
sleep 0.3
vgpuctl resume >/dev/null
wait_pid 10 "$pid_two"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u3" --submit $good3 > "$tmp/three.out"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$(uuid_n 9)" --now --submit $unreg \
    > "$tmp/unreg.out"
is "$(grep -c 'error=QUEUE_FULL' "$tmp/two.out")" $((sent2 - cap)) \
    "VM 2 got QUEUE_FULL for each request over its cap"

vgpuctl stats --json > "$tmp/stats.json"
read_at=$(now_us)
vm() { json "[v for v in j['vms'] if v['vm_id']==$1][0]$2" < "$tmp/stats.json"; }
pool() { json "[p for p in j['pools'] if p['pool']=='$1'][0]$2" < "$tmp/stats.json"; }

is "$(vm 1 "['submitted']"),$(vm 1 "['completed']"),$(vm 1 "['errors']")" \
   "$((good1 + bad1)),$good1,{'BAD_VERSION': $bad1}" "VM 1: submitted, completed, errors by code"
is "$(vm 2 "['submitted']"),$(vm 2 "['completed']"),$(vm 2 "['errors']")" \
   "$sent2,$cap,{'QUEUE_FULL': $((sent2 - cap))}" "VM 2: the full queue's refusals are QUEUE_FULL errors"
is "$(vm 3 "['submitted']"),$(vm 3 "['completed']"),$(vm 3 "['errors']")" \
   "$good3,$good3,{}" "VM 3: all completed"
is "$(pool A "['submitted']"),$(pool A "['completed']"),$(pool A "['errors']")" \
   "$((good1 + bad1 + sent2)),$((good1 + cap)),{'BAD_VERSION': $bad1, 'QUEUE_FULL': $((sent2 - cap))}" \
   "pool A is the sum of its VMs"
is "$(pool B "['submitted']"),$(pool B "['completed']")" "$good3,$good3" "pool B counts VM 3"
is "$(json "j['total']['submitted'], j['total']['errors'].get('NOT_REGISTERED')" < "$tmp/stats.json")" \
   "$((good1 + bad1 + sent2 + good3 + unreg)) $unreg" \
   "the total adds the unregistered device's requests as NOT_REGISTERED"
is "$(vm 1 "['exec_time_us']['count']"),$(vm 2 "['queue_wait_us']['count']"),$(pool A "['exec_time_us']['count']")" \
   "$good1,$cap,$((good1 + cap))" "one execution time per executed request, one queue wait per dispatched one"
is "$(json "sum(u['requests'] for u in j['units'])" < "$tmp/stats.json")" "$((good1 + cap + good3))" \
   "the units ran exactly the requests that completed"
is "$(json "sum(x['queued'] + x['running'] for x in j['vms'] + j['pools'])" < "$tmp/stats.json")" 0 \
   "nothing is left queued or running"
wait_max=$(vm 2 "['queue_wait_us']['max']")
ok "$([ "$wait_max" -ge 300000 ] && [ "$wait_max" -le $((read_at - paused_at)) ]; echo $?)" \
    "VM 2's longest queue wait is in microseconds and spans the 0.3 s pause (at most $((read_at - paused_at)) us): $wait_max"
ok "$([ "$(vm 1 "['queue_wait_us']['max']")" -lt 300000 ]; echo $?)" \
    "VM 1, served before the pause, waited less than that"
exec_count=$(vm 3 "['exec_time_us']['count']"); exec_sum=$(vm 3 "['exec_time_us']['sum']")
ok "$([ "$exec_sum" -ge $((exec_count * service_us)) ]; echo $?)" \
    "VM 3's execution times are in microseconds: on average at least the service time ($service_us us): $exec_sum us for $exec_count"
exec_max=$(vm 3 "['exec_time_us']['max']")
ok "$([ "$exec_max" -ge $service_us ] && [ "$exec_max" -lt 1000000 ]; echo $?)" \
    "and each under a second (max $exec_max us)"

table=$(vgpuctl stats)
like "$(echo "$table" | grep -E '^1 +one ')" "^1 +one +A +high +$((good1 + bad1)) +$good1 +$bad1 +0 +0 " \
    "the table shows VM 1's submitted, completed and errors"
like "$table" "vm-id 2 \(two\): QUEUE_FULL $((sent2 - cap))" "the table lists errors by code"

metrics=$(vgpuctl metrics)
like "$metrics" "vgpu_vm_requests_submitted_total\{uuid=\"$u1\",name=\"one\",vm_id=\"1\",pool=\"A\",priority=\"high\"\} $((good1 + bad1))" \
    "metrics: VM 1's submitted counter"
like "$metrics" "vgpu_pool_request_errors_total\{pool=\"A\",backend=\"${VGPU_TEST_BACKEND:-cpu}\",code=\"QUEUE_FULL\"\} $((sent2 - cap))" \
    "metrics: pool A's QUEUE_FULL counter"
like "$metrics" "vgpu_vm_exec_seconds_count\{uuid=\"$u3\",[^}]*\} $good3" "metrics: VM 3's execution summary count"
