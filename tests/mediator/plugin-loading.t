#!/bin/bash
# Backends other than cpu are plugins: <plugin-dir>/libvgpu-backend-NAME.so
# exporting vgpu_backend_entry.  A test plugin is loaded and runs requests on
# its units (a GPU named by two pools is one unit serving both); its failures
# are BACKEND errors; a missing, foreign or broken plugin stops the start with
# a clear error, unless the pool has fallback=cpu.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 16

plugins="$build/tests/plugins"
u1=$(uuid_n 1)
u2=$(uuid_n 2)

pools="[pool A]
backend=test
gpus=1
[pool B]
backend=test
gpus=1,0"
write_config "plugin-dir=$plugins"
start_daemon || bail "daemon with the test plugin did not start"
vgpuctl stats --json > "$tmp/stats.json"
is "$(json "' / '.join(u['name'] + ' ' + u['backend'] + ' ' + u['pools'] for u in j['units'])" < "$tmp/stats.json")" \
   "test unit 1 test A,B / test unit 0 test B" \
   "the plugin's units are opened; GPU 1, named by pools A and B, is one unit serving both"
is "$(json "[p['backend'] for p in j['pools']]" < "$tmp/stats.json")" "['test', 'test']" \
   "both pools run on the plugin"
vgpuctl register "$u1" --pool A --priority high --vm-id 1 >/dev/null
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 3 --base 40 > "$tmp/a.out"
is "$?:$(grep -c 'error=OK status=OK' "$tmp/a.out")" "0:3" "requests of pool A complete on the plugin"
is "$(grep -o 'result=[0-9]*' "$tmp/a.out" | sort | tr '\n' ' ')" "result=42 result=44 result=46 " \
    "with the plugin's results (in any order: the unit runs them side by side)"
is "$(vgpuctl stats --json | json "[u['requests'] for u in j['units']]")" "[3, 0]" \
    "they ran on pool A's GPU only"
# The test plugin fails a = 0xdeadbeef: base 0xdeadbeee + 1.
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 1 --base 3735928558 \
    > "$tmp/fail.out"
like "$(cat "$tmp/fail.out")" "complete seq=1 .*error=BACKEND status=BACKEND" \
    "a request the backend fails ends in BACKEND"
like "$(cat "$tmp/daemon.log")" "warning: test unit 1: request 1 of domain 'vm-1' .* failed: test unit 1 refuses a = 0xdeadbeef" \
    "the failure is logged with the unit, the domain and the backend's message"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 1 > "$tmp/after.out"
like "$(cat "$tmp/after.out")" "error=OK" "the unit recovered and serves the next request"
stop_daemon

start_fails() {     # run the daemon on $conf; its output and exit status on one line
    { "$build/vgpu-mediatord" --config "$conf" --foreground 2>&1; echo "exit=$?"; } | tr '\n' ' '
}
pools="[pool A]
backend=cuda"
write_config "plugin-dir=$plugins"
like "$(start_fails)" "$conf:[0-9]+: \[pool A\] backend: backend \"cuda\" is not installed \(no $plugins/libvgpu-backend-cuda.so\) \(set fallback=cpu to run this pool on the CPU instead\).*exit=1" \
    "a missing plugin without fallback stops the start, naming the file, line and plugin path"

pools="[pool A]
backend=badabi"
write_config "plugin-dir=$plugins"
like "$(start_fails)" "libvgpu-backend-badabi.so: backend ABI version 99, this mediator needs [0-9]+ \(rebuild the plugin\).*exit=1" \
    "a plugin of another ABI version is refused"

pools="[pool A]
backend=noentry"
write_config "plugin-dir=$plugins"
like "$(start_fails)" "libvgpu-backend-noentry.so is not a vgpu backend plugin \(no symbol vgpu_backend_entry\).*exit=1" \
    "a shared object without the entry symbol is refused"

pools="[pool A]
backend=test
gpus=5"
write_config "plugin-dir=$plugins"
like "$(start_fails)" "backend \"test\" has 2 unit\(s\) here, so GPU 5 does not exist.*exit=1" \
    "a GPU the backend does not have is refused"

pools="[pool A]
backend=test"
write_config "plugin-dir=$plugins"
like "$(VGPU_TEST_BACKEND_BROKEN=1 start_fails)" "backend \"test\" cannot run here: no test device here.*exit=1" \
    "a plugin whose probe fails cannot run the pool"

# Fallback: the pool runs on cpu lanes instead.
pools="[pool A]
backend=cuda
gpus=0
fallback=cpu
workers=2
[pool B]
backend=cpu"
write_config "plugin-dir=$plugins"
start_daemon || bail "daemon with fallback did not start"
like "$(cat "$tmp/daemon.log")" "warning: pool A: backend \"cuda\" is not installed .*; using fallback=cpu with 2 lane\(s\)" \
    "the fallback is logged as a warning"
is "$(vgpuctl stats --json | json "[(p['pool'], p['backend'], p['fallback']) for p in j['pools']]")" \
   "[('A', 'cpu', True), ('B', 'cpu', False)]" "stats show pool A on cpu by fallback"
vgpuctl register "$u2" --pool A --priority low --vm-id 2 >/dev/null
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u2" --submit 2 > "$tmp/fb.out"
is "$?:$(grep -c 'complete .*error=OK' "$tmp/fb.out")" "0:2" "requests of the fallen-back pool complete"
