#!/bin/bash
# Limits on the control socket (mediator.conf [mediator]): a client past
# control-clients-max gets a "busy" reply that says why (not a bare close);
# clients that send no complete request for control-timeout-ms, or that
# never read their replies, are closed, so that idle or deaf clients
# cannot lock vgpuctl and the libvirt hook out or grow the daemon.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 9

ctl_sock="$run/control.sock"
hold() { exec python3 "$top/tests/mediator/hold-connections.py" "$ctl_sock" "$@"; }

write_config "control-clients-max=4" "control-timeout-ms=500" "control-output-max=65536"
start_daemon || bail "daemon did not start"

hold 4 silent 30 --hold > "$tmp/held.out" &
bg_pids+=($!)
holder=$!
vgpu_wait_until 5 grep -q holding "$tmp/held.out"
"$build/vgpuctl" --runtime-dir "$run" --timeout 2000 ping > "$tmp/ping.out" 2>&1
status=$?
like "$status:$(cat "$tmp/ping.out")" "^[1-9][0-9]*:.*already serves 4 control clients \(control-clients-max\); try again" \
    "past control-clients-max, vgpuctl fails with the reason, not 'closed the connection'"
pings() { vgpuctl ping >/dev/null 2>&1; }
vgpu_wait_until 5 pings
ok $? "the idle clients are closed after control-timeout-ms, and vgpuctl works again"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
is "$(grep -c 'control client closed: no complete request within 500 ms' "$tmp/daemon.log")" 1 \
    "four idle clients closed make one log line"
like "$(cat "$tmp/daemon.log")" "control clients closed for sending no request: 4 in all" \
    "the next request ends the episode with one line counting them"

out=$(hold 2 line)
like "$out" "^2 of 2 closed, first after ([5-9][0-9][0-9]|[1-4][0-9]{3}) ms" \
    "a client that sends half a request line is closed after control-timeout-ms ($out)"

rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
out=$(hold 3 flood 20)
like "$out" "^3 of 3 closed" "clients that send requests and never read the replies are closed ($out)"
like "$(cat "$tmp/daemon.log")" "control client closed: it does not read its replies" \
    "the log says why"
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
ok "$([ $((rss_after - rss_before)) -lt 16384 ]; echo $?)" \
    "the daemon did not grow with the unread replies (${rss_before} -> ${rss_after} KiB)"
vgpuctl ping >/dev/null
ok $? "vgpuctl is served after all of it"
