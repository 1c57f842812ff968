# Helpers for the mediator's integration tests (tests/mediator/*.t).
# Source after tests/lib/tap.sh.  Each test gets a private temp dir ($tmp)
# with its own runtime dir; every process started through these helpers is
# killed on exit, and every wait is bounded.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The build under test; VGPU_BUILD (as in scripts/lib.sh) names another,
# e.g. build-asan for tests/asan/mediator.t.
build=${VGPU_BUILD:-$top/build}
. "$top/scripts/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-mediator-test.XXXXXX")
run="$tmp/run"
conf="$tmp/mediator.conf"
dev_sock="$run/mediator.sock"
daemon_pid=
bg_pids=()

cleanup() {
    local p
    if [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null; then
        vgpu_wait_until 5 sh -c "! kill -0 $daemon_pid"
    fi
    for p in "${bg_pids[@]}" $daemon_pid; do
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# write_config [extra [mediator] lines...]; pools come from $pools (default:
# A and B on cpu, one lane each).  With VGPU_TEST_BACKEND=cuda (make
# gpu-test) every cpu pool runs on GPU 0 instead, with the same service time.
write_config() {
    local pool_lines=${pools:-[pool A]
backend=cpu
[pool B]
backend=cpu}
    if [ "${VGPU_TEST_BACKEND:-cpu}" = cuda ]; then
        pool_lines=$(printf '%s\n' "$pool_lines" | sed 's/^backend=cpu$/backend=cuda\ngpus=0/')
        set -- "plugin-dir=$build/plugins" "$@"
    fi
    vgpu_mediator_config "$conf" "$run" "$pool_lines" "$@"
}

vgpuctl() { "$build/vgpuctl" --runtime-dir "$run" --timeout 5000 "$@"; }

# start_daemon [wrapper...]: start vgpu-mediatord on $conf (optionally under
# a wrapper such as valgrind) and wait until it answers ping.
start_daemon() {
    VGPU_MEDIATOR_START_LIMIT=${DAEMON_START_LIMIT:-10} \
        vgpu_mediator_start "$run" "$conf" "$tmp/daemon.log" "$@" || {
        # one that runs but never answered goes at cleanup, not waited for forever
        [ -z "$vgpu_mediator_pid" ] || bg_pids+=("$vgpu_mediator_pid")
        diag "daemon did not start:"; diag "$(cat "$tmp/daemon.log")"; return 1; }
    daemon_pid=$vgpu_mediator_pid
}

# stop_daemon: SIGTERM, wait (bounded); sets $daemon_status (or "timeout").
stop_daemon() {
    VGPU_MEDIATOR_STOP_LIMIT=${DAEMON_STOP_LIMIT:-10} vgpu_mediator_stop TERM
    daemon_status=$vgpu_mediator_status
    [ "$daemon_status" != 124 ] || daemon_status=timeout
    daemon_pid=$vgpu_mediator_pid
}

# fake NAME ARGS...: run the fake device in the background, output in $tmp/NAME.out.
fake() {
    local name=$1; shift
    "$build/tests/fake-device" --socket "$dev_sock" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    bg_pids+=($!)
    eval "pid_$name=$!"
}

# sums_ok FILE BASE: the completions in a fake device's output FILE that
# were OK with the right sum (its request i adds BASE+i and i).
sums_ok() {
    awk -v base="$2" '
        /error=OK status=OK/ { for (i = 1; i <= NF; i++) {
                                   if ($i ~ /^request_id=/) id = substr($i, 12)
                                   if ($i ~ /^result=/) r = substr($i, 8) }
                               if (r == base + 2 * id) ok++ }
        END { print ok + 0 }' "$1"
}

# flood FIRST LAST N: fake devices vmFIRST..vmLAST (VM n: uuid_n n) each
# pipeline N VECTOR_ADDs with base n*1000, in the background.
flood() {
    local n
    for n in $(seq "$1" "$2"); do
        fake "vm$n" --uuid "$(uuid_n "$n")" --submit "$3" --base $((n * 1000)) --timeout 30000
    done
}

# flood_sums FIRST LAST: wait for flood's devices; how many of their
# completions were OK with the right sum.
flood_sums() {
    local good=0 n pid
    for n in $(seq "$1" "$2"); do
        eval "pid=\$pid_vm$n"
        wait_pid 60 "$pid"
        good=$((good + $(sums_ok "$tmp/vm$n.out" $((n * 1000)))))
    done
    echo "$good"
}

# wait_pid SECONDS PID: wait for a background process of this shell (not
# from a subshell); sets $wait_status to its exit status or "timeout".
wait_pid() {
    vgpu_wait_pid "$1" "$2"
    wait_status=$?
    [ "$wait_status" != 124 ] || wait_status=timeout
}

# json EXPR: evaluate a Python expression over the JSON on stdin (as j).
json() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# The VM's queued count per vgpuctl list.
queued_of() { vgpuctl list --json | json "sum(v['queued'] for v in j['vms'] if v['uuid']=='$1')"; }
queued_is() { [ "$(queued_of "$1")" = "$2" ]; }

# Queued and running, summed over every VM, pool and the total of vgpuctl
# stats: "queued running".  Both are 0 once nothing is in flight.
gauges() { vgpuctl stats --json | json "' '.join(str(sum(x[k] for x in j['vms'] + j['pools'] + [j['total']])) for k in ('queued', 'running'))"; }

uuid_n() { printf '00000000-0000-4000-8000-%012d' "$1"; }
