#!/bin/bash
# On a GPU host: a GPU fault (the fault-injection build of the plugin runs an
# illegal store for VECTOR_ADD with first operand 0xfa017) ends that request
# in ERROR with BACKEND and CUDA's error in the log; the backend resets the
# GPU and the requests after it, from the same VM and from another pool's
# VM, succeed with the right results.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../mediator/lib.sh"
unset VGPU_TEST_BACKEND     # these tests choose their backends themselves

plan 7

pools="[pool A]
backend=cuda
gpus=0
[pool B]
backend=cpu"
write_config "plugin-dir=$build/test-plugins"
start_daemon || bail "daemon did not start"
vgpuctl register "$(uuid_n 1)" --pool A --priority high --vm-id 1 --name gpu-vm >/dev/null
vgpuctl register "$(uuid_n 2)" --pool B --priority low --vm-id 2 --name cpu-vm >/dev/null

fault=$((0xfa017))
fake faulty --uuid "$(uuid_n 1)" --submit 1 --base $((fault - 1)) --timeout 30000
wait_pid 30 "$pid_faulty"
like "$(cat "$tmp/faulty.out")" "^complete seq=1 .*error=BACKEND status=BACKEND" \
    "the faulting request ends in ERROR with BACKEND"
like "$(cat "$tmp/daemon.log")" "illegal memory access" "the log carries CUDA's error string"

fake after --uuid "$(uuid_n 1)" --submit 20 --base 100 --timeout 30000
fake other --uuid "$(uuid_n 2)" --submit 5 --base 200 --timeout 30000
wait_pid 30 "$pid_after"; s1=$wait_status
wait_pid 30 "$pid_other"; s2=$wait_status
is "$s1 $s2" "0 0" "later requests complete"
is "$(grep -c 'error=OK status=OK' "$tmp/after.out")" 20 "all 20 later requests on the GPU succeed"
bad=$(sed -nE 's/^complete seq=([0-9]+) .*result=([0-9]+).*/\1 \2/p' "$tmp/after.out" |
      awk '$2 != 100 + 2 * $1' | wc -l)
is "$bad" 0 "with the right results after the reset"
stats=$(vgpuctl stats --json)
is "$(echo "$stats" | json "[v['errors'] for v in j['vms'] if v['name']=='gpu-vm'][0]")" \
    "{'BACKEND': 1}" "stats charge exactly one BACKEND error to the VM"
is "$(grep -c '^complete .*error=OK' "$tmp/other.out")" 5 "the cpu pool kept serving"
