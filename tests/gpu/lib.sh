# shellcheck shell=bash
# Shared by the GPU tests of the CUDA test programs (tests/gpu/cuda-programs-*.t),
# sourced after the test's own lib (which sets $top): the programs, their
# runner, and NVIDIA's runtime for the native runs (CUDA_HOME, else where
# nvcc is).
bin=$top/build/tests/cuda
runner=$top/tests/cuda/run-programs.sh
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cuda_lib=${CUDA_HOME:-${nvcc%/bin/nvcc}}/lib64
[ -e "$cuda_lib/libcudart.so.13" ] || bail "no $cuda_lib/libcudart.so.13 (set CUDA_HOME)"
