#!/bin/bash
# A device that submits without ever reading its COMPLETEs never blocks the
# daemon: its completions pile up in its own bounded output buffer until
# the mediator disconnects it, while other devices are served throughout.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 4

write_config "vm-queue-limit=4"
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1); u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name deaf >/dev/null
vgpuctl register "$u2" --pool B --priority high --vm-id 2 --name fine >/dev/null

# 400000 SUBMITs: their COMPLETEs (mostly QUEUE_FULL) are far more than the
# socket buffer and the mediator's 256 KiB device-output-max.
fake deaf --uuid "$u1" --submit 400000 --no-read --timeout 60000
served=0
for round in 1 2 3 4 5; do
    "$build/tests/fake-device" --socket "$dev_sock" --uuid "$u2" --submit 4 --timeout 10000 \
        > "$tmp/fine.out" && served=$((served + $(grep -c 'complete .*error=OK' "$tmp/fine.out")))
done
is "$served" 20 \
    "another device is served while one stops reading"
wait_pid 60 "$pid_deaf"
like "$wait_status:$(tail -n 1 "$tmp/deaf.out")" "^0:closed" "the device that stopped reading is disconnected"
like "$(cat "$tmp/daemon.log")" "warning: device pid $pid_deaf \(uuid $u1\) stopped reading \(more than 262144 bytes unsent, device-output-max\): closing it" \
    "the disconnection is logged with the pid and UUID"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 2 --timeout 10000 \
    > "$tmp/again.out"
is "$?:$(grep -c 'complete .*error=OK' "$tmp/again.out")" "0:2" "the VM's next connection works"
