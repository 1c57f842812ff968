#!/bin/bash
# make gpu-test runs on a GPU host that has neither QEMU's build inputs nor
# the guest image: what it would build names neither.
. "$(dirname "$0")/../lib/tap.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
plan 3
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
plan_text=$(make --no-print-directory -C "$top" -n NVCC="$nvcc" gpu-test 2>&1)
ok "$(! grep -qE 'build-qemu\.sh|guest-image\.sh|debootstrap|apt-get' <<<"$plan_text"; echo $?)" \
    "make gpu-test builds no QEMU and no guest image"
like "$plan_text" "tests/run-tests .*build/tests/cuda-backend-test" "it runs the cuda backend test"
like "$plan_text" "tests/run-tests .*tests/gpu/cuda-fault-contained.t" "and the GPU shell tests"
