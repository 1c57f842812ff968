#!/bin/bash
# The mediator's integration tests (tests/mediator/*.t) against the daemon,
# vgpuctl, the hook and the fake devices built with ASan and UBSan (make
# asan-build: build-asan/): each one's results, then whether it exited 0
# with all of them and whether any of its processes left a sanitizer report
# (docs/testing.md, "Sanitizers").
#
# make check runs the ones that feed the daemon and the tools hostile input
# (malformed peers and replies, windows, limits, config, registry file,
# control socket, HTTP clients) and the drain at SIGTERM: the whole set
# takes 4-7 minutes under ASan on 2 cores, these about 2.
# VGPU_ASAN_TESTS="name ..." runs those, VGPU_ASAN_TESTS=all every test
# but valgrind-clean.t (valgrind cannot run an ASan program) and
# cuda-without-gpu.t (no cuda plugin in build-asan/).
. "$(dirname "$0")/lib.sh"

hostile="malformed-clients hostile-replies window-ops fd-exhaustion registry-file-safety
         bad-config control-socket device-limits control-limits stuck-peer peer-pid-checked
         metrics-http sigterm-drains"
case ${VGPU_ASAN_TESTS:-} in
"")  tests=$hostile ;;
all) tests=$(cd "$top/tests/mediator" && ls *.t | sed 's/\.t$//' |
             grep -vxE 'valgrind-clean|cuda-without-gpu') ;;
*)   tests=$VGPU_ASAN_TESTS ;;
esac

for t in $tests; do
    case $t in
    control-limits|device-limits)
        # They bound the daemon's resident memory, which ASan's quarantine of
        # freed memory (256 MiB by default) would fill: a small one here.
        ASAN_EXTRA=quarantine_size_mb=2 asan_run "$t" bash "$top/tests/mediator/$t.t" ;;
    sigterm-drains)
        # Its daemon stops with a request still running and keeps the
        # backends loaded on purpose (lsan-drain-overrun.supp says more);
        # the suppression needs the allocations' whole stacks.
        ASAN_EXTRA=fast_unwind_on_malloc=0 \
        LSAN_SUPPRESSIONS=$top/tests/asan/lsan-drain-overrun.supp \
            asan_run "$t" bash "$top/tests/mediator/$t.t" ;;
    *)
        asan_run "$t" bash "$top/tests/mediator/$t.t" ;;
    esac
done
asan_done
