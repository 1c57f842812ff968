#!/bin/bash
# Queued requests that end without running (their device's connection
# closes, their VM is unregistered) leave the queued and running gauges of
# the VM, its pool and the total exactly as if they had never been queued.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6

write_config "vm-queue-limit=16"
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1); u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name closing >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 2 --name other >/dev/null

vgpuctl pause >/dev/null
fake closing --uuid "$u1" --submit 5 --timeout 60000
fake other --uuid "$u2" --submit 2 --timeout 60000
vgpu_wait_until 10 queued_is "$u1" 5 && vgpu_wait_until 10 queued_is "$u2" 2
is "$(gauges)" "21 0" "paused: 7 requests queued, counted by the VM, the pool and the total"

kill -KILL "$pid_closing"
vgpu_wait_until 5 queued_is "$u1" 0
is "$(gauges)" "6 0" "the closed connection's requests are gone from every queued gauge"
is "$(vgpuctl stats --json | json "[v['queued'] for v in j['vms'] if v['vm_id']==2][0], [p['queued'] for p in j['pools'] if p['pool']=='A'][0], j['total']['queued']")" \
    "2 2 2" "the other VM's two are still counted, once each"

vgpuctl resume >/dev/null
wait_pid 10 "$pid_other"
is "$wait_status" 0 "the other VM's requests run"
is "$(gauges)" "0 0" "and then nothing is queued or running"
is "$(grep -c 'error=OK status=OK' "$tmp/other.out")" 2 "both completed"
