#!/bin/bash
# The scaling harness (bench/vgpu-loadgen, as make bench runs it) drives 64
# devices against a real mediator on the cpu backend, each with one
# request in flight: every device completes all its requests with the
# right results, and `vgpuctl stats` counts exactly what the devices
# counted, per VM and in total.  Then a timed run (warm-up, measured
# interval, stop) whose counts must add up the same way.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../mediator/lib.sh"

plan 9

devices=64
each=300
loadgen=$build/bench/vgpu-loadgen
pools="[pool A]
backend=cpu"
write_config
start_daemon || bail "daemon did not start"
python3 "$top/bench/register-vms.py" "$run/control.sock" 1 $devices low ||
    bail "registering $devices VMs failed"

"$loadgen" scale --socket "$dev_sock" --devices $devices --requests $each \
    --mediator-pid "$daemon_pid" --json "$tmp/fixed.json" >"$tmp/fixed.out" 2>&1
ok $? "vgpu-loadgen ran $devices devices, $each requests each"
diag "$(cat "$tmp/fixed.out")"
is "$(json "sorted(set(c for _, c in j['completed_by_vm'])), len(j['completed_by_vm']), j['failed']" \
      <"$tmp/fixed.json")" "[$each] $devices 0" \
   "all $devices devices completed $each requests each with their results"

vgpuctl stats --json >"$tmp/stats.json"
python3 "$top/bench/scale-report.py" account "$tmp/fixed.json" "$tmp/stats.json" >"$tmp/account.out"
ok $? "bench/scale-report.py finds the accounting exact"
diag "$(cat "$tmp/account.out")"
is "$(json "sorted(set((v['submitted'], v['completed'], len(v['errors'])) for v in j['vms']))" \
      <"$tmp/stats.json")" "[($each, $each, 0)]" \
   "vgpuctl stats: each VM submitted and completed $each, no errors"
total=$((devices * each))
is "$(json "j['total']['submitted'], j['total']['completed'], sum(u['requests'] for u in j['units'])" \
      <"$tmp/stats.json")" "$total $total $total" \
   "vgpuctl stats: the totals and the unit's count are the sum, $total"
is "$(gauges)" "0 0" "nothing is left queued or running"

# A timed run: the counts include the warm-up and the requests that were
# in flight when the measured interval ended.
stop_daemon
start_daemon || bail "daemon did not restart"
"$loadgen" scale --socket "$dev_sock" --devices 8 --warmup 0.3 --seconds 1 \
    --json "$tmp/timed.json" >"$tmp/timed.out" 2>&1
ok $? "a timed run of 8 devices (the VMs restored from the registry)"
vgpuctl stats --json >"$tmp/stats2.json"
python3 "$top/bench/scale-report.py" account "$tmp/timed.json" "$tmp/stats2.json" >"$tmp/account2.out"
ok $? "its accounting is exact too"
diag "$(cat "$tmp/timed.out" "$tmp/account2.out")"
ok "$(json "0 if j['requests'] > 0 and j['latency_us']['p50'] > 0 and j['throughput_rps'] > 0 else 1" \
      <"$tmp/timed.json")" "the measured interval has requests, a rate and a p50"
