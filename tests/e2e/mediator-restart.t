#!/bin/bash
# Two booted VMs (pool A, one lane, high and low) while the mediator stops
# and comes back.  Each moment has its code (docs/register-map.md,
# docs/mediator.md):
#   SIGTERM: the running request finishes (DONE), the queued one is
#            cancelled by the drain (ERROR CANCELLED);
#   down:    a doorbell is refused (ERROR NOT_CONNECTED), no identity;
#   back:    the restarted mediator registers the VMs again from its state
#            file (registry.jsonl), the device reconnects by itself
#            (reconnect=1) and requests succeed again, with no one
#            registering anything;
#   killed:  requests in flight when the connection drops end in ERROR
#            MEDIATOR_RESTARTED;
# and a guest that loops on add while the mediator is stopped and started
# sees only those outcomes, in that order, and succeeds afterwards.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 19

pool_a() {      # service time in us
    gv_mediator_config "[pool A]
backend=cpu
workers=1
service-time-us=$1"
}
hi=$(uuid_n 1)
lo=$(uuid_n 2)
register_both() {
    vgpuctl register "$hi" --pool A --priority high --vm-id 1 --name hi >/dev/null &&
        vgpuctl register "$lo" --pool A --priority low --vm-id 2 --name lo >/dev/null
}

# add_outcome NAME ID: "OK SUM" or the device's error name, once ID ended.
add_outcome() {
    gv_vm_wait "$1" "$2" 60 || { echo "no answer"; return; }
    gv_vm_output "$1" "$2" | client_json \
        "'OK %d' % j['sum'] if 'sum' in j else j['error'].get('device_error', j['error']['result'])"
}

# submit_running_and_queued A B: hi adds A + A and runs, lo adds B + B and
# waits in the queue behind it; ids in $hi_id, $lo_id.
submit_running_and_queued() {
    gv_vm_send hi "vgpu-client --json add $1 $1"
    hi_id=$gv_id
    vgpu_wait_until 30 vm_field_is "$hi" RUNNING 1 || diag "hi's request does not run"
    gv_vm_send lo "vgpu-client --json add $2 $2"
    lo_id=$gv_id
    vgpu_wait_until 30 vm_field_is "$lo" QUEUED 1 || diag "lo's request is not queued"
}

pool_a 1500000
gv_mediator_start || bail "the mediator did not start"
register_both || bail "register failed"
gv_vm_start hi "$hi"
gv_vm_start lo "$lo"
boot_all 180 hi lo
ok $? "both VMs boot" || bail "no VMs"

# 1. SIGTERM with one request running and one queued.
submit_running_and_queued 1 2
gv_mediator_stop TERM
is "$gv_mediator_status" 0 "SIGTERM: the mediator drains and exits 0"
is "$(add_outcome hi "$hi_id")" "OK 2" "the running request finishes during the drain: DONE, 1 + 1"
is "$(add_outcome lo "$lo_id")" CANCELLED "the queued request ends in ERROR CANCELLED"

# 2. Down.
out=$(gv_vm_run hi 30 "vgpu-client --json add 3 3")
is "$?:$(echo "$out" | client_json "j['error'].get('device_error')")" 1:NOT_CONNECTED \
    "while the mediator is down, add ends in ERROR NOT_CONNECTED (exit 1)"
is "$(gv_vm_run hi 30 "vgpu-client --json info" | client_json "j['registered'], j['vm_id']")" \
    "False None" "while it is down, the device has no identity"

# 3. Back: the mediator restores its registry, the devices reconnect by themselves.
gv_mediator_start || bail "the mediator did not restart"
vgpu_wait_until 15 vm_field_is "$hi" CONNECTED 1 && vgpu_wait_until 15 vm_field_is "$lo" CONNECTED 1
ok $? "after the restart both devices reconnect (reconnect=1)"
gv_vm_send hi "$(await_identity true); vgpu-client --json add 4 4"
hi_id=$gv_id
gv_vm_send lo "$(await_identity true); vgpu-client --json add 5 5"
lo_id=$gv_id
is "$(add_outcome hi "$hi_id") $(add_outcome lo "$lo_id")" "OK 8 OK 10" \
    "with their registration restored, both VMs' requests succeed again"

# 4. Killed with one request running and one queued: both are in flight on
# their devices when the connection drops.
submit_running_and_queued 6 7
gv_mediator_stop KILL
is "$gv_mediator_status" 137 "the mediator is killed (SIGKILL)"
is "$(add_outcome hi "$hi_id")" MEDIATOR_RESTARTED "the running request ends in ERROR MEDIATOR_RESTARTED"
is "$(add_outcome lo "$lo_id")" MEDIATOR_RESTARTED "the queued request ends in ERROR MEDIATOR_RESTARTED"

# 5. Requests flowing while the mediator stops and starts: hi loops on add
# (bounded) until 5 succeed after the last failure; one line per request.
pool_a 20000
gv_mediator_start || bail "the mediator did not restart (2)"
vgpu_wait_until 15 vm_field_is "$hi" CONNECTED 1 || diag "hi did not reconnect"
AFTER=5
LOOP_MAX=1000
# (The agent takes one line: the loop is written on several, then joined.)
loop=$(tr '\n' ' ' <<LOOP
$(await_identity true); n=0; after=0; failed=0;
while [ \$n -lt $LOOP_MAX ] && [ \$after -lt $AFTER ]; do
    r=\$(vgpu-client --json add \$n 1 2>/dev/null); s=\$?; echo "add \$n \$s \$r";
    if [ \$s != 0 ]; then failed=1; after=0; elif [ \$failed = 1 ]; then after=\$((after + 1)); fi;
    n=\$((n + 1));
done; [ \$after = $AFTER ]
LOOP
)
gv_vm_send hi "$loop"
loop_id=$gv_id
loop_lines() { gv_vm_output hi "$loop_id" | grep -c "^add [0-9]* $1 "; }
loop_has() { [ "$(loop_lines "$1")" -ge "$2" ]; }
vgpu_wait_until 60 loop_has 0 3
ok $? "the guest's loop is flowing (3 requests done)"
gv_mediator_stop TERM
is "$gv_mediator_status" 0 "SIGTERM while requests flow: the mediator exits 0"
vgpu_wait_until 30 loop_has 1 3
ok $? "the guest's requests fail while it is down"
gv_mediator_start || bail "the mediator did not restart (3)"
gv_vm_wait hi "$loop_id" 60
is "$(gv_vm_status hi "$loop_id")" 0 "the loop ends with $AFTER successes after the restart"

gv_vm_output hi "$loop_id" | grep '^add ' >"$tmp/loop.txt"
python3 - "$tmp/loop.txt" >"$tmp/loop-check.txt" <<'PY'
import json, re, sys
outcomes, bad_sums = [], 0
for line in open(sys.argv[1]):
    n, status, text = line.rstrip("\n").split(" ", 3)[1:]
    j = json.loads(text) if text.startswith("{") else {"error": {"result": "no JSON"}}
    if "sum" in j:
        outcomes.append("OK")
        bad_sums += j["sum"] != int(n) + 1
    else:
        outcomes.append(j["error"].get("device_error", j["error"]["result"]))
seq = " ".join(outcomes) + " "
# DONE until the stop (the running request drains), the drain's CANCELLED
# for requests that came while it drained, MEDIATOR_RESTARTED for one that
# came after its last read, NOT_CONNECTED while down, NOT_REGISTERED between
# the reconnect and the registration, then DONE.
rule = r"(OK )+(CANCELLED )*(MEDIATOR_RESTARTED )?(NOT_CONNECTED )+(NOT_REGISTERED )*(OK )+"
print("sequence-ok" if re.fullmatch(rule, seq) else "sequence-bad")
print(f"bad-sums {bad_sums}")
# Runs of equal outcomes, for the log.
runs, last = [], None
for o in outcomes:
    if o == last:
        runs[-1][1] += 1
    else:
        runs.append([o, 1])
        last = o
print("outcomes: " + ", ".join(f"{o} x{c}" for o, c in runs))
PY
diag "$(grep outcomes "$tmp/loop-check.txt")"
like "$(cat "$tmp/loop-check.txt")" "sequence-ok" \
    "the outcomes run DONE, (CANCELLED | MEDIATOR_RESTARTED), NOT_CONNECTED, (NOT_REGISTERED), DONE"
like "$(cat "$tmp/loop-check.txt")" "bad-sums 0" "every successful sum is right"
is "$(vm_field "$lo" CONNECTED)" 1 "the other VM's device reconnected too"
is "$(gv_vm_run lo 30 "$(await_identity true); vgpu-client add 40 2")" 42 "and its requests succeed"
