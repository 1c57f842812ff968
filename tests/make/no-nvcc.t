#!/bin/bash
# A host without the CUDA toolkit builds everything but the cuda backend,
# and make check says what it left out instead of failing or counting it:
# `make all` in a scratch build directory with nvcc hidden (NVCC= and a
# PATH without it), what check would run there, and the runner's line.
. "$(dirname "$0")/../lib/tap.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
plan 8
tmp=$(mktemp -d /tmp/vgpu-no-nvcc.XXXXXX) || bail "no temp dir"
trap 'rm -rf "$tmp" "$top/build/test-logs/$(tr / _ <<<"$tmp")_one.t.log"' EXIT
# PATH without any directory that holds an nvcc
path=$(tr ':' '\n' <<<"$PATH" | while read -r d; do [ -e "$d/nvcc" ] || echo "$d"; done | paste -sd:)
mk() { PATH=$path make --no-print-directory -C "$top" B="$tmp/build" NVCC= "$@"; }

PATH=$path command -v nvcc >/dev/null
is "$?" 1 "nvcc is hidden from this build"
mk -j2 all > "$tmp/all.log" 2>&1
status=$?
[ "$status" = 0 ] || sed 's/^/# /' "$tmp/all.log" | tail -n 20
is "$status" 0 "make all succeeds without nvcc"
ok "$([ -x "$tmp/build/vgpu-mediatord" ] && [ -x "$tmp/build/vgpuctl" ] &&
      [ -x "$tmp/build/guest-tools/vgpu-client" ]; echo $?)" "the daemon, vgpuctl and the guest tools are built"
ok "$([ ! -e "$tmp/build/plugins/vgpu-cuda-worker" ] && ! grep -qE '^[^ ]*nvcc ' "$tmp/all.log"; echo $?)" \
    "the cuda worker is not built and nvcc never called"

plan_text=$(mk -n check 2>&1)
ok "$(! grep -q 'cuda-plugin-test\|cuda-without-gpu' <<<"$(sed -n 's|.* tests/run-tests ||p' <<<"$plan_text")"; echo $?)" \
    "make check would not run the cuda backend's tests"
like "$(grep -o "VGPU_LEFT_OUT='[^']*'" <<<"$plan_text")" "cuda backend \(no nvcc; install the CUDA toolkit or set NVCC=\)" \
    "and tells the runner what it left out"

mk gpu-test-build > "$tmp/gpu.log" 2>&1
ok "$([ $? != 0 ] && grep -q '^nvcc not found: install the CUDA toolkit (/usr/local/cuda) or set NVCC=$' "$tmp/gpu.log"; echo $?)" \
    "make gpu-test without nvcc stops, saying why"

printf '#!/bin/bash\necho 1..1\necho ok 1 - fine\n' > "$tmp/one.t"
out=$(VGPU_LEFT_OUT="cuda backend (no nvcc)" "$top/tests/run-tests" "$tmp/one.t" 2>&1 | tail -n 2)
is "$out" "left out, not counted: cuda backend (no nvcc)
1 passed, 0 failed" "the runner says what was left out above the count, which it does not change"
