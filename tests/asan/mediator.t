#!/bin/bash
# The mediator's integration tests (tests/mediator/*.t) against the
# daemon, vgpuctl, the hook and the fake devices built with ASan and UBSan
# (make asan-build: build-asan/): each one's results, then whether it exited
# 0 with all of them and whether any of its processes left a sanitizer
# report (docs/testing.md, "Sanitizers").  Left out: valgrind-clean.t
# (valgrind cannot run an ASan program) and cuda-without-gpu.t (no cuda
# plugin in build-asan/).  VGPU_ASAN_TESTS="malformed-clients ..." runs only
# those.
. "$(dirname "$0")/lib.sh"

tests=${VGPU_ASAN_TESTS:-$(cd "$top/tests/mediator" && ls *.t | sed 's/\.t$//' |
                           grep -vxE 'valgrind-clean|cuda-without-gpu')}

for t in $tests; do
    case $t in
    control-limits|device-limits)
        # They bound the daemon's resident memory, which ASan's quarantine of
        # freed memory (256 MiB by default) would fill: a small one here.
        ASAN_EXTRA=quarantine_size_mb=2 asan_run "$t" bash "$top/tests/mediator/$t.t" ;;
    sigterm-drains)
        # Its daemon stops with a request still running and keeps the
        # backends loaded on purpose (lsan-drain-overrun.supp says more).
        LSAN_SUPPRESSIONS=$top/tests/asan/lsan-drain-overrun.supp \
            asan_run "$t" bash "$top/tests/mediator/$t.t" ;;
    *)
        asan_run "$t" bash "$top/tests/mediator/$t.t" ;;
    esac
done
asan_done
