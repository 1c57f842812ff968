#!/bin/bash
# The data window at the mediator: each array operation runs on the VM's
# window and gives the result the client computes itself (bit-exact for the
# adds and SAXPY, within the documented bound for SUM and SGEMM), touching
# no byte outside its output; every bad range is refused with its named
# error and changes nothing; a malformed WINDOW closes only that
# connection, with a log line saying why, and other VMs go on.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 40

write_config
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1)
u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name win1 >/dev/null
vgpuctl register "$u2" --pool B --priority low --vm-id 2 --name win2 >/dev/null

# op NAME EXPECT ARGS...: run one request on a 1 MiB window of VM 1.
op() {
    local name=$1 expect=$2; shift 2
    "$build/tests/window-client" --socket "$dev_sock" --uuid "$u1" --expect "$expect" "$@" \
        > "$tmp/$name.out" 2>&1
    op_status=$?
    op_out=$(grep -E '^(complete|check)' "$tmp/$name.out" | tr '\n' ' ')
}

op add-u32 OK --op add-u32 --count 1000
is "$op_status $op_out" "0 complete error=OK status=OK check ok: 1000 elements, window outside the output unchanged " \
    "ADD_U32 over 1000 elements is exact and writes only its output"
op add-f32 OK --op add-f32 --count 65536
is "$op_status" 0 "ADD_F32 over 64 Ki elements is bit-exact"
op add-f32-odd OK --op add-f32 --count 7 --a 12 --b 4096 --out 40000
is "$op_status" 0 "ADD_F32 on 7 elements at odd places"
op add-inplace OK --op add-u32 --count 4096 --a 0 --b 16384 --out 0
is "$op_status" 0 "an element-wise output that is exactly its input (in place)"
op saxpy OK --op saxpy --count 100000 --alpha -2.25
is "$op_status" 0 "SAXPY over 100000 elements equals fmaf bit for bit"
op sum OK --op sum --count 262144
like "$op_out" "complete error=OK status=OK check ok: 262144 elements" \
    "SUM over the whole 1 MiB window is within n * 2^-52 * sum|x|"
op sum-one OK --op sum --count 1 --a 1048572
is "$op_status" 0 "SUM of the window's last element"
op sgemm OK --op sgemm --m 64 --n 48 --k 80
like "$op_out" "complete error=OK status=OK check ok: 3072 elements" "SGEMM 64x48x80 within the f32 bound"
op sgemm-ld OK --op sgemm --m 17 --n 5 --k 9 --lda 12 --ldb 7 --ldc 11 --alpha 2 --beta -1
is "$op_status" 0 "SGEMM with leading dimensions larger than the rows, and beta"

# Refused ranges: named error, window unchanged.
op past-end BAD_RANGE --op add-u32 --count 2 --a 1048572
is "$op_status $op_out" "0 complete error=BAD_RANGE status=BAD_RANGE check ok: window unchanged " \
    "a range that runs past the window's end is BAD_RANGE and changes nothing"
op start-past BAD_RANGE --op sum --count 1 --a 1048576
is "$op_status" 0 "a range that starts at the window's end is BAD_RANGE"
op wrap BAD_RANGE --op add-f32 --count 4 --a 0 --b 0 --out -4
is "$op_status" 0 "an offset that wraps around 2^64 is BAD_RANGE"
op huge-count BAD_RANGE --op sum --count 4611686018427387903 --a 4
is "$op_status" 0 "a count far beyond the window is BAD_RANGE"
op wrap-count BAD_PARAMS --op sum --count 4611686018427387905
is "$op_status" 0 "a count whose byte length wraps around 2^64 is BAD_PARAMS"
op misaligned BAD_RANGE --op add-u32 --count 4 --a 2
is "$op_status" 0 "an offset not aligned to 4 bytes is BAD_RANGE"
op sgemm-big BAD_RANGE --op sgemm --m 512 --n 512 --k 512
is "$op_status" 0 "SGEMM whose matrices do not fit the window is BAD_RANGE"
op overlap OVERLAP --op add-u32 --count 16 --a 0 --b 4096 --out 4
is "$op_status" 0 "an output overlapping an input (not in place) is OVERLAP"
op saxpy-overlap OVERLAP --op saxpy --count 16 --a 0 --out 8
is "$op_status" 0 "SAXPY with x and y partly overlapping is OVERLAP"
op sgemm-inplace OVERLAP --op sgemm --m 4 --n 4 --k 4 --out 0
is "$op_status" 0 "SGEMM writing C over A is OVERLAP"
op count0 BAD_PARAMS --op add-u32 --count 0
is "$op_status" 0 "a count of 0 is BAD_PARAMS"
op lda BAD_PARAMS --op sgemm --m 4 --n 4 --k 8 --lda 4
is "$op_status" 0 "SGEMM with lda smaller than k is BAD_PARAMS"
op sgemm-dim BAD_PARAMS --op sgemm --m 4 --n 4 --k 2147483648
is "$op_status" 0 "SGEMM with a dimension over 2^31 - 1 is BAD_PARAMS"
if [ "${VGPU_TEST_BACKEND:-cpu}" = cuda ]; then
    op cuda OK --op cuda --a 65536 --gpu
    like "$op_out" "complete error=OK status=OK check ok: 2 elements" \
        "a CUDA batch on a GPU pool: one device, an allocation, nothing else touched"
else
    op cuda OK --op cuda --a 65536
    like "$op_out" "complete error=OK status=OK check ok: 2 elements" \
        "a CUDA batch on a pool without a GPU: every call answered cudaErrorNoDevice, nothing else touched"
fi
op cuda-misaligned BAD_PARAMS --op cuda --a 65540
is "$op_status" 0 "a CUDA batch not 8-byte aligned is BAD_PARAMS"
op cuda-past-end BAD_RANGE --op cuda --a 1048560 --length 64
is "$op_status" 0 "a CUDA batch running past the window is BAD_RANGE"
op no-window NO_WINDOW --op sum --count 4 --window none
is "$op_status" 0 "a window opcode from a device without a window is NO_WINDOW"

# Malformed WINDOW messages: that connection closes with a reason logged.
# bad_window KIND LOG-PATTERN DESCRIPTION
bad_window() {
    "$build/tests/window-client" --socket "$dev_sock" --uuid "$u2" --window "$1" \
        > "$tmp/bad-$1.out" 2>&1
    is "$(tail -n 1 "$tmp/bad-$1.out")" closed "$3: the connection is closed"
    vgpu_wait_until 5 grep -q "$2" "$tmp/daemon.log"
    ok $? "$3: the log says why"
}
bad_window no-fd "WINDOW came without its memfd" "WINDOW without an fd"
bad_window unsealed "not sealed against shrinking" "an unsealed memfd"
bad_window size-mismatch "has 1048576 bytes, WINDOW announced 2097152" "a memfd of another size"
bad_window not-memfd "not a memfd" "/dev/null as the window"
bad_window two-fds "more than one file descriptor" "two fds"

op after OK --op add-u32 --count 1000
is "$op_status" 0 "after the malformed windows, a VM's window operations still run"
kill -0 "$daemon_pid"
is "$?" 0 "the mediator survived every malformed window"

# window-max-mib: a larger window is not mapped; its operations end in NO_WINDOW.
stop_daemon
write_config "window-max-mib=1"
start_daemon || bail "daemon did not restart"
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name win1 >/dev/null
op over-max NO_WINDOW --op sum --count 4 --size 2097152
is "$op_status" 0 "a window over window-max-mib is not mapped: NO_WINDOW"
like "$(cat "$tmp/daemon.log")" "its data window of 2 MiB is over window-max-mib \\(1\\): not mapped" \
    "the log says why"
