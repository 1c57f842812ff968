#!/bin/bash
# Limits a hostile peer on the device socket runs into (mediator.conf
# [mediator], mediator.conf(5)): a connection that sends no HELLO, or
# starts a message and stops, is closed after its timeout; connections
# past device-connections-per-uid or -max are refused; unread output past
# device-output-total-max closes the connection that holds the most.  Each
# is logged once per episode, not once per connection, and well-behaved
# devices are served throughout.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 16

hold() { exec python3 "$top/tests/mediator/hold-connections.py" "$dev_sock" "$@"; }
served() {
    "$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 2 --timeout 5000 \
        > "$tmp/served.out" && [ "$(grep -c 'complete .*error=OK' "$tmp/served.out")" = 2 ]
}
u1=$(uuid_n 1)

write_config "hello-timeout-ms=300" "message-timeout-ms=300" "device-connections-per-uid=8" \
    "device-connections-max=12"
start_daemon || bail "daemon did not start"
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name fine >/dev/null

out=$(hold 6 silent)
like "$out" "^6 of 6 closed, first after (3[0-9][0-9]|[4-9][0-9][0-9]|[12][0-9]{3}) ms" \
    "connections that send no HELLO are closed after hello-timeout-ms ($out)"
is "$(grep -c 'sent no HELLO within 300 ms: closing it' "$tmp/daemon.log")" 1 \
    "six of them make one log line, not six"
served
ok $? "a device that says HELLO is served"
vgpu_wait_until 5 grep -q 'device connections closed for sending nothing: 6 in all' "$tmp/daemon.log"
ok $? "the HELLO ends the episode with one line counting the closed connections"

out=$(hold 3 partial)
like "$out" "^3 of 3 closed, first after (3[0-9][0-9]|[4-9][0-9][0-9]|[12][0-9]{3}) ms" \
    "a message begun and not finished is closed after message-timeout-ms ($out)"
like "$(cat "$tmp/daemon.log")" "sent part of a message and not the rest within 300 ms: closing it" \
    "the partial message is named in the log"

hold 8 hello 30 --hold > "$tmp/held.out" &
bg_pids+=($!)
holder=$!
vgpu_wait_until 5 grep -q holding "$tmp/held.out"
vgpu_wait_until 5 sh -c "[ \"\$(grep -c 'is not registered: it waits' '$tmp/daemon.log')\" -ge 8 ]"
out=$(hold 3 hello 2)
like "$out" "^3 of 3 closed, first after [0-9]{1,2} ms, last after [0-9]{1,2} ms$" \
    "past device-connections-per-uid, new connections are closed at once ($out)"
is "$(grep -c 'already has 8 connections (device-connections-per-uid)' "$tmp/daemon.log")" 1 \
    "the refusals are logged once"
kill "$holder"; wait "$holder" 2>/dev/null
vgpu_wait_until 5 served
ok $? "once the held connections go, a device is served again"
like "$(cat "$tmp/daemon.log")" "device connections refused at a limit: 3 in all" \
    "accepting again ends the episode with the count"
stop_daemon

# device-connections-max, reached with a per-uid limit above it.
write_config "hello-timeout-ms=30000" "device-connections-per-uid=100" "device-connections-max=4"
start_daemon || bail "daemon did not restart"
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name fine >/dev/null
hold 4 hello 30 --hold > "$tmp/held.out" &
bg_pids+=($!)
holder=$!
vgpu_wait_until 5 grep -q holding "$tmp/held.out"
out=$(hold 1 silent 2)
like "$out" "^1 of 1 closed, first after [0-9]{1,2} ms" \
    "past device-connections-max, a new connection is closed at once ($out)"
like "$(cat "$tmp/daemon.log")" "refused: already 4 connections \(device-connections-max\)" \
    "the refusal names the limit"
kill "$holder"; wait "$holder" 2>/dev/null
stop_daemon

# device-output-total-max: two devices that never read their COMPLETEs.
write_config "vm-queue-limit=4" "device-output-total-max=131072"
start_daemon || bail "daemon did not restart"
u2=$(uuid_n 2); u3=$(uuid_n 3)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name fine >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 2 --name deaf1 >/dev/null
vgpuctl register "$u3" --pool B --priority low --vm-id 3 --name deaf2 >/dev/null
fake deaf1 --uuid "$u2" --submit 100000 --no-read --timeout 60000
fake deaf2 --uuid "$u3" --submit 100000 --no-read --timeout 60000
wait_pid 60 "$pid_deaf1"
status1=$wait_status
wait_pid 60 "$pid_deaf2"
like "$status1:$wait_status:$(tail -n 1 "$tmp/deaf1.out"):$(tail -n 1 "$tmp/deaf2.out")" \
    "^0:0:closed after [0-9]+ submits:closed after [0-9]+ submits$" "devices that never read are closed"
like "$(cat "$tmp/daemon.log")" "devices hold more than 131072 unsent bytes in all \(device-output-total-max\): closing device pid [0-9]+" \
    "the total of unsent output is what closed one of them"
served
ok $? "a device that reads is served meanwhile and after"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
ok "$([ "$rss" -lt 65536 ]; echo $?)" "the daemon's memory stays bounded (${rss} KiB resident)"
