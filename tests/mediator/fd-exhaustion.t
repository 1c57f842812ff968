#!/bin/bash
# Out of file descriptors, the daemon does not spin on a listening socket
# that stays readable: it stops accepting for a moment at a time, says so
# once, and accepts again (and serves) when descriptors free up.  Run with
# RLIMIT_NOFILE 64 and 120 device connections held for 3 s.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6

write_config
start_daemon prlimit --nofile=64:64 || bail "daemon did not start"
vgpuctl register "$(uuid_n 1)" --pool A --priority high --vm-id 1 >/dev/null

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
before=$(cpu_ticks)
python3 - "$dev_sock" > "$tmp/hold.out" <<'PY'
import socket, sys, time
held = []
for _ in range(120):
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except (BlockingIOError, OSError):
        pass
    held.append(s)
time.sleep(3)
print(len(held))
PY
after=$(cpu_ticks)
ticks=$(getconf CLK_TCK)
used=$(( (after - before) * 1000 / ticks ))
ok "$([ "$used" -lt 500 ]; echo $?)" "out of descriptors for 3 s, the daemon used ${used} ms of CPU, not a busy loop"
# An episode ends when a connection is accepted again (a descriptor that
# frees up lets one in): a line per episode, not per failed accept (the
# old loop wrote hundreds of thousands).
episodes=$(grep -c 'cannot accept device connections: Too many open files' "$tmp/daemon.log")
ok "$([ "$episodes" -ge 1 ] && [ "$episodes" -le 5 ]; echo $?)" \
    "it says so once per episode ($episodes), not once per failed accept"
like "$(grep 'cannot accept device connections' "$tmp/daemon.log")" "trying again every 100 ms" \
    "and what it does about it"

vgpu_wait_until 10 vgpuctl ping
ok $? "once the connections are gone, the control socket answers again"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$(uuid_n 1)" --submit 3 > "$tmp/after.out"
is "$?:$(grep -c 'error=OK status=OK' "$tmp/after.out")" "0:3" "and a device is served"
like "$(cat "$tmp/daemon.log")" "accepting device connections again" "the log says the episode ended"
