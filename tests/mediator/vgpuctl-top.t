#!/bin/bash
# vgpuctl top, run in a terminal (tmux) and read off the screen: every VM,
# pool and unit with the same counts and p99s as vgpuctl stats; requests
# per second and busy time that match the rate the mediator ran a device's
# requests at; a mediator that goes away is said on the screen; q quits
# (or Ctrl-C) and gives the terminal back, --iterations ends it by itself.  Without a terminal, or with a bad --delay,
# it says why.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 16

command -v tmux >/dev/null || bail "tmux is not installed (scripts/install-deps.sh installs it)"
service_us=10000         # pool A's lane: at most 100 requests a second
pools="[pool A]
backend=cpu
service-time-us=$service_us
[pool B]
backend=cpu"
write_config "vm-queue-limit=1000"
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1); u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name steady >/dev/null
vgpuctl register "$u2" --pool B --priority low --vm-id 2 --name bursty >/dev/null
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u2" --submit 30 --bad 4 > "$tmp/bursty.out"

tm() { tmux -S "$tmp/tmux.sock" "$@"; }
screen() { tm capture-pane -p; }
trap 'tm kill-server 2>/dev/null; cleanup' EXIT
tm new-session -d -x 160 -y 40 "env -i PATH=$PATH HOME=$tmp TERM=xterm LANG=C.UTF-8 bash --norc --noprofile"
tm send-keys "$build/vgpuctl --runtime-dir $run top --delay 2; echo top-exit=\$?" Enter

# Fields of the screen's row that starts with KEY (a VM's vm-id, a pool's
# letter, a unit's number) under the header that starts with HEADER.
row() { screen | awk -v h="$1" -v k="$2" '$1 == h { on = 1; next } /^$/ { on = 0 } on && $1 == k'; }
vm_row() { row VM-ID "$1"; }
pool_row() { row POOL "$1"; }
unit_row() { row UNIT "$1"; }
stats() { vgpuctl stats --json | json "$1"; }
vm_stat() { stats "[v for v in j['vms'] if v['vm_id']==$1][0]$2"; }

vgpu_wait_until 10 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^ *2 bursty '"
like "$(screen | head -n 1)" "^vgpu-mediatord [0-9.]+ \(pid $daemon_pid\), up [0-9]+:[0-9]{2}:[0-9]{2}: 2 VM\(s\), 0 device connection\(s\), 0 queued$" \
    "the first line names the mediator (its pid), its VMs, devices and queue"
like "$(screen)" "VM-ID NAME +POOL PRIO +REQ/S +ERR/S QUEUED +RUN WAIT-AVG EXEC-AVG WAIT-P99 EXEC-P99 WIN-MB/S +COMPLETED +ERRORS" \
    "a table of VMs with rates, queue, latencies, window throughput and totals"
# VM row: 1 vm-id 2 name 3 pool 4 prio 5 req/s 6 err/s 7 queued 8 run 9 wait-avg
# 10 exec-avg 11 wait-p99 12 exec-p99 13 win-MB/s 14 completed 15 errors.
vm2() { vm_row 2 | awk '{ print $3, $4, $7, $8, $11, $12, $14, $15 }'; }
is "$(vm2)" "B low 0 0 $(vm_stat 2 "['queue_wait_us']['p99']") $(vm_stat 2 "['exec_time_us']['p99']") 30 4" \
    "VM 2's row: pool, priority, queue, p99 wait and execution, completed and errors as vgpuctl stats has them"
pool_b() { pool_row B | awk '{ print $2, $NF - 0, $(NF - 1) }'; }
is "$(pool_b)" "cpu 4 30" "pool B's row: its backend, errors and completed"

# Steady traffic: VM 1's requests on one lane that takes 10 ms each.
# A screen, then a later one while the device still runs: the later one's
# figures are of the traffic alone, however late a loaded host runs top.
# Beside each, what vgpuctl stats counts, timed by the mediator's clock
# (uptime_us) as top's are.
fake steady --uuid "$u1" --submit 800 --timeout 120000
progress() { stats "j['uptime_us'], [v for v in j['vms'] if v['vm_id']==1][0]['completed']" | tr -d '(),'; }
shown() { screen > "$tmp/frame"; awk '$1 == "1" && $2 == "steady" { print $14 }' "$tmp/frame"; }
first_frame() { c_a=$(shown); [ "${c_a:-0}" -gt 0 ] && read -r t0 c0 < <(progress); }
next_frame() { c_b=$(shown); [ "$c_b" != "$c_a" ] && read -r t1 c1 < <(progress); }
vgpu_wait_until 30 first_frame && vgpu_wait_until 30 next_frame
cp "$tmp/frame" "$tmp/busy.screen"
seconds=$(sed -n 's/.*the last \([0-9.]*\) s;.*/\1/p' "$tmp/busy.screen")
top_rate=$(awk '$1 == "1" && $2 == "steady" { print $5 }' "$tmp/busy.screen")
stats_rate=$(python3 -c "print('%.1f' % (($c1 - $c0) / (($t1 - $t0) / 1e6)))")
ok "$(python3 -c "import sys; sys.exit(not ($c_b < 800 and abs($top_rate / $stats_rate - 1) <= 0.15))"; echo $?)" \
    "VM 1's REQ/S, $top_rate, over the last $seconds s while the device ran, is the rate vgpuctl stats counts meanwhile ($stats_rate/s) within 15%"
pool_rate=$(awk '$1 == "A" && $2 == "cpu" { print $3 }' "$tmp/busy.screen")
# stats copies each row's counters on its own: the pool's may hold a
# request or two more than its one VM's.
ok "$(python3 -c "import sys; sys.exit(not abs(float('$pool_rate') - float('$top_rate')) <= 1.0)"; echo $?)" \
    "pool A's REQ/S, $pool_rate, is its one VM's within a request in the interval"
busy=$(awk '$1 == "0" && $(NF - 4) == "A" { print $(NF - 2) }' "$tmp/busy.screen")
ok "$([ "${busy:-0}" -ge 90 ] && [ "$busy" -le 101 ]; echo $?)" \
    "unit 0, pool A's lane, is busy ${busy}% of the time"
wait_pid 30 "$pid_steady"
done_screen() { [ "$(vm_row 1 | awk '{ print $5, $14 }')" = "0.0 800" ]; }
vgpu_wait_until 10 done_screen
ok $? "once the device is done, VM 1's REQ/S is 0.0 and it has 800 completed"
is "$(unit_row 0 | awk '{ print $(NF - 1) }')" "$(stats "j['units'][0]['requests']")" \
    "unit 0's requests are those of vgpuctl stats"

tm send-keys q
vgpu_wait_until 5 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^top-exit=0'"
ok $? "q quits (exit status 0)"
is "$(screen | grep -c 'VM-ID')" 0 "and the terminal is given back: the shell's screen, without the table"

tm send-keys "$build/vgpuctl --runtime-dir $run top --iterations 3 --delay 0.2; echo iterations-exit=\$?" Enter
vgpu_wait_until 5 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^iterations-exit=0'"
ok $? "--iterations 3 --delay 0.2 ends by itself"

tm send-keys "$build/vgpuctl --runtime-dir $run top --delay 0.2; echo interrupted-exit=\$?" Enter
vgpu_wait_until 10 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^ *1 steady '"
stop_daemon
vgpu_wait_until 5 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^vgpu-mediatord is not reachable: '"
ok $? "when the mediator stops, the screen says it is not reachable (and top goes on trying)"
tm send-keys C-c
vgpu_wait_until 5 sh -c "tmux -S '$tmp/tmux.sock' capture-pane -p | grep -q '^interrupted-exit=0'"
ok $? "Ctrl-C ends it as q does, giving the terminal back"

out=$("$build/vgpuctl" --runtime-dir "$run" top < /dev/null 2>&1)
is "$?:$out" "2:vgpuctl top: needs a terminal (vgpuctl stats is for scripts) (try vgpuctl top --help)" \
    "without a terminal it says so"
out=$("$build/vgpuctl" --runtime-dir "$run" top --delay 0 2>&1)
is "$?:$out" "2:vgpuctl top: --delay must be between 0.1 and 3600 seconds (try vgpuctl top --help)" \
    "a bad --delay is refused"
