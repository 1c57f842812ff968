#!/bin/bash
# Each libFuzzer target of tests/fuzz/ for a few seconds (VGPU_FUZZ_CHECK_SECONDS,
# default 3) over its seed corpus, which holds the inputs of every bug the
# fuzzers found: one result per target, failed by a crash, a failed check,
# a leak or a sanitizer report.  `make fuzz` runs them longer
# (docs/testing.md, "Fuzzing").
exec "$(dirname "$0")/run-fuzz" --tap --seconds "${VGPU_FUZZ_CHECK_SECONDS:-3}"
