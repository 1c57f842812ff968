#!/bin/bash
# For systemd (Type=notify) the daemon reports READY=1 once its sockets
# listen, STATUS= with its VMs and pools, and STOPPING=1 at SIGTERM, on the
# socket named by NOTIFY_SOCKET.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 4

python3 - "$tmp/notify.sock" > "$tmp/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
try:
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\n", "|"), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
PY
bg_pids+=($!)
listener=$!
vgpu_wait_until 5 test -S "$tmp/notify.sock"

write_config
NOTIFY_SOCKET="$tmp/notify.sock" start_daemon || bail "daemon did not start"
vgpu_wait_until 5 grep -q READY "$tmp/notify.log"
vgpuctl register "$(uuid_n 1)" --pool A --priority high --vm-id 1 >/dev/null
vgpu_wait_until 5 grep -q "1 VM" "$tmp/notify.log"
stop_daemon
wait_pid 10 "$listener"

is "$(sed -n 1p "$tmp/notify.log")" "READY=1" "READY=1 comes first, once the sockets listen"
is "$(sed -n 2p "$tmp/notify.log")" "STATUS=0 VM(s) registered; pools A, B" "then the status"
is "$(sed -n 3p "$tmp/notify.log")" "STATUS=1 VM(s) registered; pools A, B" "a registration updates it"
is "$(sed -n 4p "$tmp/notify.log")" "STOPPING=1|STATUS=draining" "SIGTERM reports STOPPING=1"
