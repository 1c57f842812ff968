#!/bin/bash
# The mediator SIGKILLed five times while seven VMs submit without pause:
# one booted guest looping on add through its device, and six fake devices
# (host processes speaking the wire protocol) that connect again whenever
# they lose the mediator.  Every request of the guest ends DONE with the
# right sum or with a documented error of a lost mediator (never BUSY,
# never a wrong sum), the guest's device reconnects by itself, every
# registration comes back from the state file, and the fake devices only
# ever hear OK (or NOT_REGISTERED in the moment before the restore).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 9

KILLS=5
GUEST_SECONDS=35
gv_mediator_config "[pool A]
backend=cpu
workers=2
service-time-us=2000"
gv_mediator_start || bail "the mediator did not start"
for n in 1 2 3 4 5 6 7; do
    vgpuctl register "$(uuid_n $n)" --pool A --priority "$( [ $((n % 2)) = 0 ] && echo high || echo low)" \
        --vm-id $n --name "vm$n" >/dev/null || bail "register vm$n failed"
done
gv_vm_start guest "$(uuid_n 7)"
boot_all 180 guest || bail "the guest did not boot"

# The guest adds n + 1 for GUEST_SECONDS, one line per request.
# (The agent takes one line: the loop is written on several, then joined.)
loop=$(tr '\n' ' ' <<LOOP
$(await_identity true); end=\$((\$(date +%s) + $GUEST_SECONDS)); n=0;
while [ \$(date +%s) -lt \$end ]; do r=\$(vgpu-client --json add \$n 1 2>/dev/null);
    echo "add \$n \$? \$r"; n=\$((n + 1)); done
LOOP
)
gv_vm_send guest "$loop"
loop_id=$gv_id

# Six fake devices, each reconnecting after every loss.
for n in 1 2 3 4 5 6; do
    ( while [ ! -e "$tmp/stop" ]; do
          "$top/build/tests/fake-device" --socket "$gv_run/mediator.sock" --uuid "$(uuid_n $n)" \
              --submit 50 --timeout 5000 >> "$tmp/fake$n.out" 2>&1
          echo "run ended $?" >> "$tmp/fake$n.out"
          sleep 0.05
      done ) &
    fakes+=($!)
done

sleep 5
for k in $(seq $KILLS); do
    gv_mediator_stop KILL
    [ "$gv_mediator_status" = 137 ] || diag "kill $k: status $gv_mediator_status"
    sleep 0.5
    gv_mediator_start || bail "the mediator did not restart after kill $k"
    sleep 3
done
touch "$tmp/stop"
wait "${fakes[@]}"
gv_vm_wait guest "$loop_id" $((GUEST_SECONDS + 60))
is "$(gv_vm_status guest "$loop_id")" 0 "the guest's loop ran to its end: no request stayed BUSY"

gv_vm_output guest "$loop_id" | grep '^add ' > "$tmp/guest.txt"
python3 - "$tmp/guest.txt" > "$tmp/guest-check.txt" <<'PY'
import json, sys
allowed = {"MEDIATOR_RESTARTED", "NOT_CONNECTED", "NOT_REGISTERED", "CANCELLED"}
ok = failed = wrong = other = 0
last = None
for line in open(sys.argv[1]):
    n, status, text = line.rstrip("\n").split(" ", 3)[1:]
    j = json.loads(text) if text.startswith("{") else {}
    if "sum" in j:
        ok += 1
        wrong += j["sum"] != int(n) + 1
        last = "OK"
    else:
        e = j.get("error", {}).get("device_error", j.get("error", {}).get("result", "no JSON"))
        failed += 1
        other += e not in allowed
        last = e
print(ok, failed, wrong, other, last)
PY
read -r g_ok g_failed g_wrong g_other g_last < "$tmp/guest-check.txt"
diag "guest: $g_ok DONE, $g_failed ended with a lost-mediator error, over $KILLS kills"
ok "$([ "$g_ok" -gt 0 ] && [ "$g_wrong" = 0 ]; echo $?)" "every DONE of the guest carries the right sum ($g_ok of them)"
ok "$([ "$g_failed" -gt 0 ] && [ "$g_other" = 0 ]; echo $?)" \
    "every failed request ended with a documented lost-mediator error ($g_failed of them)"
is "$g_last" OK "the guest's last request succeeded"
vgpu_wait_until 15 vm_field_is "$(uuid_n 7)" CONNECTED 1
ok $? "the guest's device is connected to the last mediator (reconnect=1)"
is "$(vgpuctl list --json | json "len(j['vms'])")" 7 "all seven registrations came back"

cat "$tmp"/fake*.out > "$tmp/fakes.txt"
f_ok=$(grep -c 'complete .*error=OK status=OK' "$tmp/fakes.txt")
f_bad=$(grep '^complete ' "$tmp/fakes.txt" | grep -vc 'error=OK status=OK\|error=NOT_REGISTERED status=NOT_REGISTERED')
f_runs=$(grep -c '^run ended' "$tmp/fakes.txt")
diag "fake devices: $f_ok requests OK in $f_runs connections"
is "$f_bad" 0 "the fake devices heard only OK or NOT_REGISTERED"
ok "$([ "$f_runs" -ge $((6 * (KILLS + 1))) ]; echo $?)" \
    "they connected again after every kill ($f_runs connections for 6 devices)"
ok "$(grep -q 'malformed\|protocol' "$tmp/fakes.txt"; [ $? = 1 ]; echo $?)" "no protocol error anywhere"
echo "$KILLS kills: guest $g_ok DONE, $g_failed lost; fakes $f_ok OK in $f_runs connections" \
    > "${VGPU_RELIABILITY_OUT:-/dev/null}"
