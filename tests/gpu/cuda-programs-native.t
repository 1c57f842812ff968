#!/bin/bash
# On a GPU host: the CUDA test programs of tests/cuda/ run natively, on
# NVIDIA's libcudart.so.13, and pass: the runner's default set, each
# program with its expected exit status and last line (out-of-bounds: 3,
# the fault named on stdout; the others: 0 and PASS), quota again with
# its own total as the expected one, and the benchmarks' --time runs at
# their sizes.  A second run's stdout equals the first's, program by
# program: what the comparison with a VM's run rests on.  The first run
# stays in build/test-logs/cuda-programs-native/ to compare a VM's run
# with (tests/cuda/run-programs.sh compare).
. "$(dirname "$0")/../lib/tap.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
native=$top/build/test-logs/cuda-programs-native
tmp=$(mktemp -d /tmp/vgpu-cuda-native.XXXXXX) || bail "no temp dir"
trap 'rm -rf "$tmp"' EXIT

specs=$("$runner" list)
count=$(echo "$specs" | wc -l)
plan $((count + 8))

export LD_LIBRARY_PATH=$cuda_lib
# One GPU, as a VM sees: vector-add prints the device count.
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
like "$(ldd "$bin/vector-add" | grep libcudart)" "=> $cuda_lib/libcudart.so.13 " \
    "the programs load NVIDIA's libcudart.so.13"

rm -rf "$native"
"$runner" run -b "$bin" "$native" > "$tmp/run.tap"
status=$?
grep -q 'cudaErrorNoDevice\|cudaErrorInsufficientDriver' "$native"/vector-add*.err &&
    bail "no usable GPU: $(tail -q -n 1 "$native"/vector-add*.err)"
grep '^#' "$tmp/run.tap"
is "$status" 0 "the runner's default set passes natively"

while read -r spec; do
    program=${spec%% *}
    name=$(echo "$spec" | tr ' ' '_')
    got="$(cat "$native/$name.status") $(tail -n 1 "$native/$name.out")"
    case $program in
    out-of-bounds) want="^3 FAULTED out-of-bounds$" ;;
    vector-add) want="^0 vector-add: [0-9]+ elements on 1 device\\(s\\), check ok$" ;;
    *) want="^0 PASS $program$" ;;
    esac
    like "$got" "$want" "$spec: exit and last line"
done <<< "$specs"

oob=$(cat "$native/out-of-bounds.out")
like "$oob" "^out-of-bounds: a store [0-9]+ bytes past a 4096-byte allocation: cudaError(IllegalAddress|LaunchFailure|MisalignedAddress|InvalidAddressSpace|InvalidPc|HardwareStackError|IllegalInstruction)$" \
    "out-of-bounds: cudaDeviceSynchronize returns the kernel's fault"
diag "out-of-bounds natively (reported, not required):" "$oob" \
    "$(grep 'small computation' "$native/out-of-bounds.err")"

total=$(sed -nE 's/^quota: cudaMemGetInfo: free [0-9]+ of ([0-9]+) bytes$/\1/p' "$native/quota.err")
"$runner" run -b "$bin" "$tmp/quota" "quota=quota $total" > "$tmp/quota.tap"
status=$?
is "$status:$(grep -c "expected total: ok" "$tmp/quota/quota.out")" "0:1" \
    "quota with the GPU's total ($total bytes) as the expected total"

"$runner" run -b "$bin" "$tmp/again" > "$tmp/again.tap"
"$runner" compare "$native" "$tmp/again" > "$tmp/compare.tap"
status=$?
grep '^not ok\|^#' "$tmp/compare.tap"
is "$status" 0 "a second run's stdout and exit statuses equal the first's"

# The benchmarks' runs (docs/benchmarks.md): their sizes, their --time lines.
"$bin/matmul-tiled" --time > "$tmp/mm.out" 2> "$tmp/mm.err"
status=$?
is "$status:$(tail -n 1 "$tmp/mm.out"):$(grep -c '^matmul-tiled: N=4096 kernel_ms=[0-9.]* wall_ms=' "$tmp/mm.err")" \
    "0:PASS matmul-tiled:1" "matmul-tiled --time: 4096x4096, checked, GPU time on stderr"
diag "$(cat "$tmp/mm.err")"

"$bin/bandwidth" --time 268435456 > "$tmp/bw.out" 2> "$tmp/bw.err"
status=$?
is "$status:$(tail -n 1 "$tmp/bw.out"):$(grep -c '_GBps=' "$tmp/bw.out")" "0:PASS bandwidth:3" \
    "bandwidth --time 256 MiB: every kind checked, GB/s on stdout"
diag "$(grep GBps "$tmp/bw.out")"

"$bin/empty-launches" --time > "$tmp/el.out" 2> "$tmp/el.err"
status=$?
is "$status:$(tail -n 1 "$tmp/el.out"):$(grep -c '^empty-launches: launches=10000 wall_us=' "$tmp/el.err")" \
    "0:PASS empty-launches:1" "empty-launches --time: 10000 launches, the wall time on stderr"
diag "$(cat "$tmp/el.err")"
