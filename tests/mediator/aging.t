#!/bin/bash
# aging-ms: a low priority request that has waited long enough overtakes
# high priority requests that arrived after it; with aging off (the
# default) it stays behind them.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 2

pools="[pool A]
backend=cpu
workers=1
service-time-us=50000"
u1=$(uuid_n 1); u2=$(uuid_n 2)

# order AGING: run with aging-ms=AGING; print the requests in the order the
# unit started them (the "started #N" of the mediator's debug log, not when
# the fakes printed).
order() {
    write_config "aging-ms=$1"
    start_daemon || bail "daemon did not start"
    vgpuctl register "$u1" --pool A --priority low --vm-id 1 --name low >/dev/null
    vgpuctl register "$u2" --pool A --priority high --vm-id 2 --name high >/dev/null
    vgpuctl pause >/dev/null
    fake low --uuid "$u1" --submit 1 --timeout 10000
    vgpu_wait_until 5 queued_is "$u1" 1
    sleep 0.5           # the low request waits: past two aging periods of 200 ms
    fake high --uuid "$u2" --submit 2 --timeout 10000
    vgpu_wait_until 5 queued_is "$u2" 2
    vgpuctl resume >/dev/null
    wait_pid 10 "$pid_low"; wait_pid 10 "$pid_high"
    stop_daemon
    sed -n "s/.*: ran request \([0-9]*\) of domain '\([a-z]*\)' .*started #\([0-9]*\),.*/\3 \2:\1/p" \
        "$tmp/daemon.log" | sort -n | cut -d' ' -f2 | tr '\n' ' '
    : > "$tmp/daemon.log"
}

is "$(order 0)" "high:1 high:2 low:1 " "aging off: strict priority, the low request runs last"
is "$(order 200)" "low:1 high:1 high:2 " "aging-ms=200: the low request aged to high runs first (it arrived first)"
