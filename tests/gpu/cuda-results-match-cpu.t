#!/bin/bash
# On a GPU host: the mediator with pools A and B on the cuda backend (one
# GPU serving both) returns exactly what it returns on the cpu backend for
# the same requests (edge values, a wrap past 2^32, ordinary values), logs
# the GPU with its memory and compute capability, and `vgpuctl stats` shows
# the GPU's requests and busy time.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../mediator/lib.sh"
unset VGPU_TEST_BACKEND     # these tests choose their backends themselves

plan 9

per_vm=64
# vm pool priority base (request i adds base+i and i; vm1's sums wrap past 2^32).
vms="1 A high 4294967280
2 B low 7
3 A medium 2147483600"

# run_workload NAME: register the VMs, submit, keep each VM's result lines.
run_workload() {
    local name=$1 statuses=""
    while read -r n pool prio base; do
        vgpuctl register "$(uuid_n "$n")" --pool "$pool" --priority "$prio" --vm-id "$n" \
            --name "vm$n" >/dev/null
        fake "vm$n" --uuid "$(uuid_n "$n")" --submit "$per_vm" --base "$base" --timeout 30000
    done <<< "$vms"
    while read -r n _; do
        eval "pid=\$pid_vm$n"
        wait_pid 30 "$pid"
        statuses+="$wait_status "
        sed -nE 's/^complete seq=([0-9]+) .*error=(\w+) status=(\w+) result=(\S+).*/\1 \2 \3 \4/p' \
            "$tmp/vm$n.out" | sort -n > "$tmp/$name-vm$n.results"
    done <<< "$vms"
    echo "$statuses"
}

pools="[pool A]
backend=cuda
gpus=0
[pool B]
backend=cuda
gpus=0"
write_config "plugin-dir=$build/plugins"
start_daemon || bail "daemon with cuda pools did not start"
like "$(cat "$tmp/daemon.log")" "unit 0: .*\(backend cuda, GPU 0, [0-9.]+ GiB, compute capability [0-9]+\.[0-9]+\) serves pool\(s\) A,B" \
    "the log names the GPU, its memory and compute capability, and both pools"
is "$(run_workload cuda)" "0 0 0 " "every request completed on the GPU"
stats=$(vgpuctl stats --json)
is "$(echo "$stats" | json "j['units'][0]['backend'] + ' ' + str(j['units'][0]['requests'])")" \
    "cuda $((3 * per_vm))" "stats count every request on the GPU unit"
ok "$(echo "$stats" | json "0 if j['units'][0]['busy_us'] > 0 else 1")" "stats show the GPU's busy time"
like "$(echo "$stats" | json "j['units'][0]['name']")" "NVIDIA" "the unit is named after the GPU"
stop_daemon
is "$daemon_status" 0 "the cuda daemon stops cleanly"

pools="[pool A]
backend=cpu
[pool B]
backend=cpu"
write_config
: > "$tmp/daemon.log"
start_daemon || bail "daemon with cpu pools did not start"
is "$(run_workload cpu)" "0 0 0 " "every request completed on the cpu"

diffs=""
for n in 1 2 3; do
    diff -q "$tmp/cuda-vm$n.results" "$tmp/cpu-vm$n.results" >/dev/null || diffs+="vm$n "
done
is "$diffs" "" "cuda and cpu returned identical results for all $((3 * per_vm)) requests"
# vm1's request 9 adds 4294967289 and 9: the sum wraps to 2.
is "$(sed -n 9p "$tmp/cuda-vm1.results")" "9 OK OK 2" "the GPU's sum wraps modulo 2^32"
