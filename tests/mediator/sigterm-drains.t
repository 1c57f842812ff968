#!/bin/bash
# SIGTERM drains: the daemon stops accepting, lets the running request
# finish, ends queued ones with CANCELLED (their COMPLETEs are sent), and
# exits 0 with its sockets removed.  A request that overruns
# drain-timeout-ms is ended with CANCELLED so the stop stays bounded.
# The unit runs one request at a time (in-flight=1, also on a GPU, where
# the default is 4) so that one runs while three wait.
# (Service times are long so that a slow machine still sends SIGTERM while
# the first request runs: on 2 loaded cores, seeing "1 running, 3 queued"
# through vgpuctl took up to 4 s.)
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 9

pools="[pool A]
backend=cpu
workers=1
in-flight=1
service-time-us=8000000"
write_config "drain-timeout-ms=30000"
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 >/dev/null

fake drained --uuid "$u1" --submit 4 --timeout 10000
running_and_queued() {
    [ "$(vgpuctl list --json | json "j['vms'][0]['running'], j['vms'][0]['queued']")" = "1 3" ]
}
vgpu_wait_until 5 running_and_queued
stop_daemon
is "$daemon_status" 0 "the daemon exits 0 after SIGTERM"
wait_pid 10 "$pid_drained"
is "$wait_status" 0 "the device got a COMPLETE for each of its 4 requests"
is "$(grep -c 'complete .*error=OK status=OK' "$tmp/drained.out")" 1 "the running request finished"
is "$(grep -c 'complete .*error=CANCELLED status=CANCELLED' "$tmp/drained.out")" 3 \
    "the queued requests ended CANCELLED"
ok "$(test ! -e "$run/mediator.sock" && test ! -e "$run/control.sock"; echo $?)" \
    "both sockets are removed"
like "$(cat "$tmp/daemon.log")" "stopping: 3 queued request\(s\) cancelled" "the drain is logged"

# A request that overruns the drain time.
pools="[pool A]
backend=cpu
workers=1
in-flight=1
service-time-us=6000000"
write_config "drain-timeout-ms=200"
start_daemon || bail "daemon did not restart"
vgpuctl register "$u1" --pool A --priority high --vm-id 1 >/dev/null
fake overrun --uuid "$u1" --submit 1 --timeout 10000
running_one() { [ "$(vgpuctl list --json | json "j['vms'][0]['running']")" = 1 ]; }
vgpu_wait_until 5 running_one
start=$(date +%s%N)
stop_daemon
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$daemon_status" 0 "a daemon whose request overran the drain time still exits 0"
ok "$([ "$elapsed_ms" -lt 2500 ]; echo $?)" "it stopped within the drain time, not the 6 s request (${elapsed_ms} ms)"
wait_pid 5 "$pid_overrun"
like "$(cat "$tmp/overrun.out")" "complete seq=1 .*error=CANCELLED" "the overrunning request ended CANCELLED"
