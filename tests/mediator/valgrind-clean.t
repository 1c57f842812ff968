#!/bin/bash
# The daemon runs clean under valgrind through a real workload: good and
# bad requests, a full VM queue, the test plugin, every kind of malformed
# device message, a refused peer pid, malformed and oversized control
# requests, scrapes of /metrics and malformed HTTP clients, an unregister
# with queued requests, and a SIGTERM drain with
# requests running and queued: no invalid access, no definite or indirect
# leak, and exit 0.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 12

pools="[pool A]
backend=cpu
workers=2
service-time-us=20000
[pool B]
backend=test
[pool C]
backend=cpu
workers=1
service-time-us=3000000"
clients() { python3 "$top/tests/mediator/http-clients.py" "$@"; }
port=$(clients free-port)
write_config "vm-queue-limit=8" "plugin-dir=$build/tests/plugins" "drain-timeout-ms=10000" \
    "metrics-listen=127.0.0.1:$port"
export G_SLICE=always-malloc G_DEBUG=gc-friendly
DAEMON_START_LIMIT=60 DAEMON_STOP_LIMIT=60
start_daemon valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=30 \
    --log-file="$tmp/valgrind.log" || bail "daemon under valgrind did not start"

u1=$(uuid_n 1); u2=$(uuid_n 2); u3=$(uuid_n 3); u4=$(uuid_n 4)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name one >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 2 --name two >/dev/null
vgpuctl register "$u3" --pool B --priority medium --vm-id 3 --name three >/dev/null
vgpuctl register "$u4" --pool A --priority medium --vm-id 4 --name refused --pid $$ >/dev/null
u6=$(uuid_n 6)
vgpuctl register "$u6" --pool C --priority high --vm-id 6 --name drained >/dev/null

"$build/tests/fake-device" -s "$dev_sock" -u "$u1" --submit 6 --bad 2 --timeout 30000 > "$tmp/one.out"
"$build/tests/fake-device" -s "$dev_sock" -u "$u3" --submit 8 --timeout 30000 > "$tmp/three.out"
"$build/tests/fake-device" -s "$dev_sock" -u "$u3" --submit 1 --base 3735928558 --timeout 30000 \
    > "$tmp/backend-error.out"
vgpuctl pause >/dev/null
fake full --uuid "$u2" --submit 12 --timeout 30000
vgpu_wait_until 30 queued_is "$u2" 8
vgpuctl resume >/dev/null
wait_pid 30 "$pid_full"
"$build/tests/fake-device" -s "$dev_sock" -u "$u4" --submit 1 --timeout 30000 > "$tmp/refused.out"
"$build/tests/fake-device" -s "$dev_sock" -u "$(uuid_n 9)" --now --submit 2 --timeout 30000 \
    > "$tmp/unreg.out"
"$build/tests/fake-device" -s "$dev_sock" --no-hello --now --submit 1 --timeout 30000 > /dev/null
for kind in bad-magic bad-length unknown-type identity complete hello-twice truncated oversized garbage; do
    "$build/tests/fake-device" -s "$dev_sock" -u "$u2" --raw "$kind" --timeout 30000 > /dev/null
done
vgpuctl pause >/dev/null
"$build/tests/fake-device" -s "$dev_sock" -u "$u2" --submit 3 --raw unknown-type --timeout 30000 > /dev/null
vgpuctl resume >/dev/null
is "$(grep -c 'complete .*error=OK' "$tmp/one.out") $(grep -c 'complete .*error=QUEUE_FULL' "$tmp/full.out") $(grep -c 'error=BACKEND' "$tmp/backend-error.out") $(head -n 1 "$tmp/refused.out")" \
   "6 4 1 identity error=PERMISSION pool=- priority=- vm_id=0" "the workload ran under valgrind"

# Control socket: every command, malformed and oversized requests.
python3 - "$run/control.sock" <<'PY'
import socket, sys
for lines in ([b'{"command":"ping"}', b'{"command":"list"}', b'{"command":"stats"}',
               b'{"command":"metrics"}', b'not json', b'{"command":"nope"}',
               b'{"command":"register","uuid":"x"}', b'[1,2]'],
              [b'x' * 70000]):
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
    f = s.makefile("rb")
    for line in lines:
        try:
            s.sendall(line + b"\n"); f.readline()
        except OSError:
            break
    s.close()
PY
vgpuctl stats >/dev/null && vgpuctl metrics >/dev/null
is "$?" 0 "stats and metrics answer"

# HTTP: scrapes, malformed requests, clients that vanish in mid-scrape.
clients garbage "$port" > /dev/null
clients vanish "$port" 5
for _ in 1 2 3; do curl -sf -m 30 "http://127.0.0.1:$port/metrics" > "$tmp/scrape.txt"; done
like "$(cat "$tmp/scrape.txt")" "vgpu_vm_requests_completed_total\{uuid=\"$u1\",[^}]*\} 6" \
    "GET /metrics answers under valgrind"

# A connection refused when the pid is set after it connected.
vgpuctl register "$(uuid_n 5)" --pool A --priority low --vm-id 5 >/dev/null
fake late --uuid "$(uuid_n 5)" --linger --timeout 30000
vgpu_wait_until 30 grep -q 'error=OK' "$tmp/late.out"
is "$(vgpuctl set-pid "$(uuid_n 5)" $$)" "pid $$ set; 1 other connection(s) refused" \
    "set-pid after the device connected refuses that connection"
wait_pid 30 "$pid_late"
is "$(tail -n 2 "$tmp/late.out")" "identity error=PERMISSION pool=- priority=- vm_id=0
closed" "and the device hears PERMISSION and is closed"

# Unregister with queued requests, then stop with requests running and queued.
vgpuctl pause >/dev/null
fake leaving --uuid "$u2" --submit 4 --timeout 30000
vgpu_wait_until 30 queued_is "$u2" 4
is "$(vgpuctl unregister "$u2")" "unregistered $u2; 4 queued request(s) cancelled" \
    "unregister cancels the VM's queued requests"
wait_pid 30 "$pid_leaving"
vgpuctl resume >/dev/null
# All four queued first (however slowly they arrive under valgrind), then
# one runs (3 s) while three wait.
vgpuctl pause >/dev/null
fake draining --uuid "$u6" --submit 4 --timeout 60000
vgpu_wait_until 30 queued_is "$u6" 4
vgpuctl resume >/dev/null
vgpu_wait_until 30 queued_is "$u6" 3
stop_daemon
wait_pid 30 "$pid_draining"
is "$wait_status:$(grep -c 'complete .*error=OK' "$tmp/draining.out")" "0:1" \
    "at SIGTERM the running request finished"
is "$(grep -c 'complete .*error=CANCELLED' "$tmp/draining.out")" 3 \
    "and the queued ones were cancelled"

is "$daemon_status" 0 "valgrind found no error (exit 0, not 99)"
summary=$(cat "$tmp/valgrind.log")
is "$(grep -c 'Invalid \(read\|write\|free\)\|uninitialised\|Mismatched' "$tmp/valgrind.log")" 0 \
    "no invalid access"
is "$(grep -c 'definitely lost in\|indirectly lost in' "$tmp/valgrind.log")" 0 "no definite or indirect leak"
[ -z "$summary" ] || diag "$summary"
like "$(cat "$tmp/daemon.log")" "info: stopped" "the daemon stopped cleanly"
