#!/bin/bash
# A device whose VM is not registered gets IDENTITY NOT_REGISTERED and its
# SUBMITs end in NOT_REGISTERED, but it stays connected: when the VM is
# registered it gets its identity and its requests run; when the VM is
# unregistered it hears NOT_REGISTERED and its queued requests end CANCELLED.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 12

write_config
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
u2=$(uuid_n 2)

"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --now --submit 2 --timeout 5000 \
    > "$tmp/now.out"
is "$?" 0 "an unregistered device's SUBMITs are answered"
is "$(head -n 1 "$tmp/now.out")" "identity error=NOT_REGISTERED pool=- priority=- vm_id=0" \
    "HELLO with an unregistered UUID gets IDENTITY NOT_REGISTERED"
is "$(grep -c 'complete .*error=NOT_REGISTERED status=NOT_REGISTERED result=-' "$tmp/now.out")" 2 \
    "each SUBMIT ends in NOT_REGISTERED, in the COMPLETE and in its response"
metrics=$(vgpuctl metrics)
is "$(grep -A1 '^# TYPE vgpu_unregistered_requests_total ' <<<"$metrics")" \
    "# TYPE vgpu_unregistered_requests_total counter
vgpu_unregistered_requests_total 2" "vgpuctl metrics counts them in vgpu_unregistered_requests_total"
is "$(grep -c '_request_errors_total{.*code="NOT_REGISTERED"} [1-9]' <<<"$metrics")" 0 \
    "and in no pool's or VM's series"

# A device that connects first and waits: registration reaches it.
fake early --uuid "$u1" --submit 3 --base 100 --timeout 10000
vgpu_wait_until 5 grep -q NOT_REGISTERED "$tmp/early.out"
vgpuctl register "$u1" --pool B --priority medium --vm-id 11 --name early >/dev/null
wait_pid 10 "$pid_early"
is "$wait_status" 0 "the waiting device completes its requests once its VM is registered"
like "$(sed -n 2p "$tmp/early.out")" "^identity error=OK pool=B priority=medium vm_id=11$" \
    "registering the VM sends the waiting device its identity"
is "$(grep -c 'complete .*error=OK status=OK' "$tmp/early.out")" 3 "its 3 requests ran"

# Unregistering a VM with queued requests.
vgpuctl register "$u2" --pool A --priority low --vm-id 12 --name leaving >/dev/null
vgpuctl pause >/dev/null
fake leaving --uuid "$u2" --submit 3 --timeout 10000
vgpu_wait_until 10 queued_is "$u2" 3
is "$(vgpuctl unregister "$u2")" "unregistered $u2; 3 queued request(s) cancelled" \
    "unregister reports the queued requests it cancelled"
wait_pid 10 "$pid_leaving"
vgpuctl resume >/dev/null
like "$(grep identity "$tmp/leaving.out" | tail -n 1)" "error=NOT_REGISTERED" \
    "the device hears IDENTITY NOT_REGISTERED when its VM is unregistered"
is "$(grep -c 'complete .*error=CANCELLED status=CANCELLED' "$tmp/leaving.out")" 3 \
    "its queued requests end CANCELLED"
is "$(gauges)" "0 0" "the cancelled requests no longer count as queued, for the VM, the pool or the total"
