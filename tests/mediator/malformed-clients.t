#!/bin/bash
# Malformed wire messages (bad header, wrong length, unknown type, a device
# sending IDENTITY or COMPLETE, HELLO twice, a message cut short) close that
# connection, logged with the peer's pid and UUID, and its queued requests
# are dropped as PROTOCOL errors.  Bad request bytes are answered with their
# error and the connection stays.  Other connections are never affected.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

kinds="bad-magic bad-length unknown-type identity complete hello-twice truncated oversized garbage"
plan $(( $(echo $kinds | wc -w) * 2 + 9 ))

write_config
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name steady >/dev/null
vgpuctl register "$u2" --pool A --priority low --vm-id 2 --name rogue >/dev/null

# A well-behaved device stays connected through all of it.
fake steady --uuid "$u1" --linger --timeout 60000
vgpu_wait_until 5 grep -q 'error=OK' "$tmp/steady.out"

for kind in $kinds; do
    name=raw_${kind//-/_}
    fake "$name" --uuid "$u2" --raw "$kind" --timeout 5000
    eval "pid=\$pid_$name"
    wait_pid 10 "$pid"
    is "$wait_status:$(tail -n 1 "$tmp/$name.out")" "0:closed" \
        "$kind: the mediator closes the connection"
    like "$(grep "device pid $pid " "$tmp/daemon.log" | grep -E 'warning' | head -n 1)" \
        "warning: device pid $pid \((uuid $u2|before HELLO)\): .*closing the connection" \
        "$kind: logged as a warning with the peer's pid and UUID"
done

# Queued requests of a connection closed for a protocol error are PROTOCOL errors.
vgpuctl pause >/dev/null
fake queued_then_bad --uuid "$u2" --submit 3 --raw unknown-type --timeout 5000
wait_pid 10 "$pid_queued_then_bad"
vgpuctl resume >/dev/null
is "$(tail -n 1 "$tmp/queued_then_bad.out")" "closed" "a connection with queued requests is closed too"
is "$(vgpuctl stats --json | json "[v['errors'].get('PROTOCOL', 0) for v in j['vms'] if v['vm_id']==2][0]")" 3 \
    "its 3 queued requests are dropped and counted as PROTOCOL errors"

# Bad request bytes: answered with the decoder's error; the connection stays.
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u2" --submit 1 --bad 2 --linger \
    --timeout 1000 > "$tmp/badreq.out"
is "$(grep -c 'complete .*error=BAD_VERSION status=BAD_VERSION' "$tmp/badreq.out")" 2 \
    "requests the codec rejects end with its error, in COMPLETE and response"
is "$(grep -c 'complete .*error=OK' "$tmp/badreq.out"):$(tail -n 1 "$tmp/badreq.out")" "1:timeout" \
    "the good request on the same connection runs, and the connection stays open"

# SUBMIT without HELLO: a protocol error, not a request to answer (a peer
# that never says HELLO would otherwise make the mediator write for it).
"$build/tests/fake-device" --socket "$dev_sock" --no-hello --now --submit 1 --timeout 5000 \
    > "$tmp/nohello.out"
is "$(cat "$tmp/nohello.out")" "closed" "a SUBMIT before HELLO closes the connection, unanswered"

# Nothing of that reached the well-behaved device, which still works.
is "$(cat "$tmp/steady.out")" "identity error=OK pool=A priority=high vm_id=1" \
    "the steady device received nothing but its identity"
is "$(vgpuctl list --json | json "[v['connected'] for v in j['vms'] if v['vm_id']==1][0]")" 1 \
    "the steady device is still connected"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 5 --timeout 5000 \
    > "$tmp/after.out"
is "$?:$(grep -c 'error=OK status=OK' "$tmp/after.out")" "0:5" "the mediator still serves requests"
vgpuctl ping >/dev/null
is "$?" 0 "the mediator is alive and answers its control socket"
