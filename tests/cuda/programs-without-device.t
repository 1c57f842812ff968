#!/bin/bash
# The CUDA test programs (tests/cuda/*.cu, built with nvcc -cudart shared)
# and their runner, on a host without a GPU:
# - each program imports only calls the guest's libcudart.so.13 implements:
#   every CUDA name it needs the library exports, and none is one of the
#   stubs of guest-tools/cudart/unsupported-list.h;
# - the runner's default set runs every program;
# - on the library with no vgpu-stub device (an empty sysfs through
#   VGPU_TEST_ROOT), run by the runner under busybox's sh with busybox's
#   tools alone (as in a guest), every program fails loudly: exit 1, the
#   call and cudaErrorNoDevice on stderr, never PASS on stdout;
# - compare: a run against itself agrees; a different stdout, a different
#   exit status and a missing program each disagree, with the difference.
# On a GPU these programs run in tests/gpu/cuda-programs-native.t.
. "$(dirname "$0")/../lib/tap.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$top/build/tests/cuda
cudart=$top/build/guest-tools/cudart
runner=$top/tests/cuda/run-programs.sh
tmp=$(mktemp -d /tmp/vgpu-cuda-programs.XXXXXX) || bail "no temp dir"
trap 'rm -rf "$tmp"' EXIT

programs=$(cd "$top/tests/cuda" && ls ./*.cu | sed 's|^\./||; s|\.cu$||')
count=$(echo "$programs" | wc -l)
plan $((2 * count + 5))

for p in $programs; do
    [ -x "$bin/$p" ] || bail "no $bin/$p (make build/tests/cuda/$p)"
done
[ -e "$cudart/libcudart.so.13" ] || bail "no $cudart/libcudart.so.13"
busybox=$(command -v busybox) || bail "no busybox (install busybox-static: make deps)"

sed -n 's/^ *X(\([A-Za-z0-9_]*\)).*/\1/p' "$top/guest-tools/cudart/unsupported-list.h" |
    sort > "$tmp/unsupported"
nm -D --defined-only "$cudart/libcudart.so.13" | awk '{print $3}' | sed 's/@.*//' |
    sort -u > "$tmp/exported"
for p in $programs; do
    nm -D --undefined-only "$bin/$p" | awk '{print $2}' | sed -n 's/@.*//; /^_*cuda/p' |
        sort -u > "$tmp/$p.imports"
    bad=$(comm -12 "$tmp/$p.imports" "$tmp/unsupported"; comm -23 "$tmp/$p.imports" "$tmp/exported")
    is "$bad" "" "$p imports only calls the guest library implements ($(wc -l < "$tmp/$p.imports") names)"
done

listed=$("$runner" list | sed 's/^[^ =]*=//; s/ .*//' | sort -u)
is "$listed" "$(echo "$programs" | sort)" "the runner's default set runs every program"

# As in a guest: busybox's sh and tools only, and no vgpu-stub device.
mkdir -p "$tmp/bb" "$tmp/sysfs"
"$busybox" --install -s "$tmp/bb" || bail "cannot install busybox's applets"
bb_run() { PATH=$tmp/bb "$tmp/bb/sh" "$runner" "$@"; }
VGPU_TEST_ROOT=$tmp/sysfs LD_LIBRARY_PATH=$cudart:$top/build/guest-tools \
    bb_run run -b "$bin" "$tmp/run" > "$tmp/run.tap"
status=$?
specs=$("$runner" list | wc -l)
ok "$([ "$status" = 1 ] && [ "$(grep -c '^not ok' "$tmp/run.tap")" = "$specs" ] &&
      [ "$(grep -c '^ok' "$tmp/run.tap")" = 0 ]; echo $?)" \
    "without a device the runner reports all $specs runs not ok and exits 1" ||
    sed 's/^/# /' "$tmp/run.tap" | head -n 40

for p in $programs; do
    loud=0
    for f in "$tmp/run/$p"[_.]*status; do
        name=${f%.status}
        if ! { [ "$(cat "$f")" = 1 ] && grep -q "^$p: .*: cudaErrorNoDevice: " "$name.err" &&
               ! grep -q '^PASS' "$name.out"; }; then
            loud=1
            diag "$(basename "$name"): exit $(cat "$f")"
            sed 's/^/# /' "$name.out" "$name.err"
        fi
    done
    ok "$loud" "$p without a device: exit 1, the call and cudaErrorNoDevice on stderr, no PASS"
done

bb_run compare "$tmp/run" "$tmp/run" > "$tmp/same.tap"
ok "$([ $? = 0 ] && [ "$(grep -c '^ok' "$tmp/same.tap")" = "$specs" ]; echo $?)" \
    "compare: a run agrees with itself"

cp -r "$tmp/run" "$tmp/other"
echo "symbols: one more line" >> "$tmp/other/symbols.out"
bb_run compare "$tmp/run" "$tmp/other" > "$tmp/out.tap"
ok "$([ $? = 1 ] && grep -q '^not ok [0-9]* - symbols: the same exit (1), a different stdout$' "$tmp/out.tap" &&
      grep -q '^#   +symbols: one more line$' "$tmp/out.tap" &&
      [ "$(grep -c '^ok' "$tmp/out.tap")" = $((specs - 1)) ]; echo $?)" \
    "compare: a different stdout disagrees, with the diff" || sed 's/^/# /' "$tmp/out.tap"

cp "$tmp/run/symbols.out" "$tmp/other/symbols.out"
echo 3 > "$tmp/other/out-of-bounds.status"
rm "$tmp/other/quota".*
bb_run compare "$tmp/run" "$tmp/other" > "$tmp/status.tap"
ok "$([ $? = 1 ] && grep -q "^not ok [0-9]* - out-of-bounds: exit 1 in $tmp/run, 3 in $tmp/other$" "$tmp/status.tap" &&
      grep -q "^not ok [0-9]* - quota: no run in $tmp/other$" "$tmp/status.tap" &&
      [ "$(grep -c '^ok' "$tmp/status.tap")" = $((specs - 2)) ]; echo $?)" \
    "compare: a different exit status and a missing program disagree" || sed 's/^/# /' "$tmp/status.tap"
