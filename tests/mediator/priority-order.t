#!/bin/bash
# 7 VMs over pools A and B with high/medium/low priorities submit while the
# pools' single lanes are busy (service time 20 ms); every request completes,
# with the right result, in exactly the order the rules give: per pool,
# high before medium before low, FIFO within a priority (by arrival).  The
# order is the one the pool's unit started them in, from the mediator's own
# log (log-level=debug logs each request run with its "started #N"), never
# when a fake device got to print.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6

pools="[pool A]
backend=cpu
workers=1
service-time-us=20000
[pool B]
backend=cpu
workers=1
service-time-us=20000"
write_config
start_daemon || bail "daemon did not start"

# vm pool priority; listed in the order they will submit (not priority order).
vms="3 A low
6 B low
2 A medium
7 B medium
1 A high
5 B high
4 A high"
per_vm=3

echo "$vms" | while read -r n pool prio; do
    vgpuctl register "$(uuid_n "$n")" --pool "$pool" --priority "$prio" --vm-id "$n" \
        --name "vm$n" >/dev/null || echo "register vm$n failed"
done > "$tmp/register.err"
is "$(cat "$tmp/register.err")" "" "7 VMs registered"

# Hold dispatch so that all requests are queued in a known arrival order,
# then let the two lanes work through them under contention.
vgpuctl pause >/dev/null
arrival_ok=0
while read -r n pool prio; do
    fake "vm$n" --uuid "$(uuid_n "$n")" --submit "$per_vm" --base $((n * 1000)) --timeout 30000
    vgpu_wait_until 10 queued_is "$(uuid_n "$n")" "$per_vm" || arrival_ok=1
done <<< "$vms"
ok "$arrival_ok" "each VM's $per_vm pipelined requests are queued before the next VM submits"
is "$(vgpuctl ping --json | json "j['queued']")" "$((7 * per_vm))" "all 21 requests wait in the one queue"
vgpuctl resume >/dev/null

statuses=""
while read -r n pool prio; do
    eval "pid=\$pid_vm$n"
    wait_pid 30 "$pid"
    statuses+="$wait_status "
done <<< "$vms"
is "$statuses" "0 0 0 0 0 0 0 " "every fake device got all its completions"

# Derive the expected order from the rules and compare with the order in
# which each pool's single lane ran the requests.
echo "$vms" > "$tmp/vms.txt"
python3 - "$tmp" "$per_vm" > "$tmp/order.txt" <<'PY'
import sys, re
tmp, per_vm = sys.argv[1], int(sys.argv[2])
rank = {"high": 0, "medium": 1, "low": 2}
vms = [l.split() for l in open(f"{tmp}/vms.txt").read().splitlines()]
pool_of = {n: p for n, p, _ in vms}
started = []
for line in open(f"{tmp}/daemon.log"):
    m = re.search(r": ran request (\d+) of domain 'vm(\d+)' \(vm-id \d+\): OK, started #(\d+),",
                  line)
    if m:
        started.append((int(m.group(3)), m.group(2), m.group(1)))
ran = {"A": [], "B": []}
for _, vm, request in sorted(started):
    ran[pool_of[vm]].append(f"vm{vm}:{request}")
bad_results = 0
for pool in ("A", "B"):
    expect = []
    for arrival, (n, p, prio) in enumerate(vms):
        if p != pool:
            continue
        for line in open(f"{tmp}/vm{n}.out"):
            m = re.match(r"complete seq=(\d+) .*error=(\w+) .*result=(\S+) ", line)
            if m and (m.group(2) != "OK" or m.group(3) != str(int(n) * 1000 + 2 * int(m.group(1)))):
                bad_results += 1
        expect += [((rank[prio], arrival, s), f"vm{n}:{s}") for s in range(1, per_vm + 1)]
    print(f"{pool} got    " + " ".join(ran[pool]))
    print(f"{pool} expect " + " ".join(x for _, x in sorted(expect)))
print(f"bad-results {bad_results}")
PY
diag "$(cat "$tmp/order.txt")"
got=$(grep ' got ' "$tmp/order.txt" | sed 's/ got  *//')
want=$(grep ' expect ' "$tmp/order.txt" | sed 's/ expect  *//')
is "$got" "$want" "pools A and B completed in priority order, FIFO within a priority"
is "$(grep bad-results "$tmp/order.txt")" "bad-results 0" "every result is a + b and OK"
