#!/bin/bash
# Seven booted VMs over pools A and B with high, medium and low priorities
# each submit one VECTOR_ADD while dispatch is paused, in an order the test
# controls; each pool has one cpu lane whose requests take 300 ms, so they
# queue.  After resume, the completion timestamps (the device's TIMESTAMP,
# host CLOCK_MONOTONIC) follow the rule: per pool, high before medium
# before low, and by arrival within a priority.  Every sum is right.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 7

SERVICE_US=300000
gv_mediator_config "[pool A]
backend=cpu
workers=1
service-time-us=$SERVICE_US
[pool B]
backend=cpu
workers=1
service-time-us=$SERVICE_US"
gv_mediator_start || bail "the mediator did not start"

# vm pool priority, in the order they will submit (not the order of the rule).
vms="1 A low
2 B medium
3 A high
4 B low
5 A high
6 B high
7 A medium"

registered=0
while read -r n pool prio; do
    vgpuctl register "$(uuid_n "$n")" --pool "$pool" --priority "$prio" --vm-id "$n" \
        --name "vm$n" >/dev/null || registered=1
    gv_vm_start "vm$n" "$(uuid_n "$n")"
done <<<"$vms"
ok "$registered" "7 VMs registered"
boot_all 240 $(cut -d' ' -f1 <<<"$vms" | sed 's/^/vm/')
ok $? "the 7 VMs boot" || bail "not every VM booted"

# Hold dispatch, then let each guest submit only when the previous one's
# request is queued: arrival order is the order of $vms.
vgpuctl pause >/dev/null
arrival=0
declare -A id
while read -r n pool prio; do
    gv_vm_send "vm$n" "vgpu-client --json add $((n * 1000)) $n"
    id[$n]=$gv_id
    vgpu_wait_until 60 vm_field_is "$(uuid_n "$n")" QUEUED 1 || arrival=1
done <<<"$vms"
ok "$arrival" "each VM's request is queued before the next VM submits"
is "$(vgpuctl ping --json | json "j['queued']")" 7 "all 7 requests wait in the one queue"
vgpuctl resume >/dev/null

statuses=""
while read -r n pool prio; do
    gv_vm_wait "vm$n" "${id[$n]}" 60
    statuses+="$(gv_vm_status "vm$n" "${id[$n]}") "
    gv_vm_output "vm$n" "${id[$n]}" | grep '^{' | tail -n 1 >"$tmp/result-vm$n.json"
done <<<"$vms"
is "$statuses" "0 0 0 0 0 0 0 " "every guest's add succeeds"

# The rule, applied here to the table above, against the timestamps.
echo "$vms" >"$tmp/vms.txt"
python3 - "$tmp" >"$tmp/order.txt" <<'PY'
import json, sys
tmp = sys.argv[1]
rank = {"high": 0, "medium": 1, "low": 2}
vms = [line.split() for line in open(f"{tmp}/vms.txt").read().splitlines()]
bad_sums = 0
for pool in ("A", "B"):
    got, want = [], []
    for arrival, (n, p, prio) in enumerate(vms):
        if p != pool:
            continue
        r = json.load(open(f"{tmp}/result-vm{n}.json"))
        bad_sums += r["sum"] != int(n) * 1000 + int(n)
        got.append((r["timestamp_ns"], f"vm{n}"))
        want.append(((rank[prio], arrival), f"vm{n}"))
    got.sort()
    print(f"{pool} got  " + " ".join(name for _, name in got))
    print(f"{pool} want " + " ".join(name for _, name in sorted(want)))
    gaps = [(b[0] - a[0]) // 1000000 for a, b in zip(got, got[1:])]
    print(f"{pool} gaps between completions (ms): {gaps}")
print(f"bad-sums {bad_sums}")
PY
diag "$(cat "$tmp/order.txt")"
is "$(sed -n 's/ got  */ /p' "$tmp/order.txt")" "$(sed -n 's/ want  */ /p' "$tmp/order.txt")" \
    "completions follow priority, then arrival, in each pool"
is "$(grep bad-sums "$tmp/order.txt")" "bad-sums 0" "every sum is a + b"
