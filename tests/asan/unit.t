#!/bin/bash
# The unit tests built with ASan and UBSan (make asan-build: build-asan/),
# each one's results, then whether it exited 0 with all of them and left no
# sanitizer report (docs/testing.md, "Sanitizers").  vgpu-client-test is the
# normal build's program running the sanitized vgpu-client and libvgpu.so
# (with the normal static client beside them: ASan links no static program).
# VGPU_ASAN_TESTS="codec-test ..." runs only those.
. "$(dirname "$0")/lib.sh"

tests=${VGPU_ASAN_TESTS:-codec-test identity-test queue-test registry-test config-test
    control-proto-test stats-test metadata-test qemu-pid-test domain-edit-test libvgpu-test
    vgpu-client-test}

for t in $tests; do
    if [ "$t" = vgpu-client-test ]; then
        clients=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-asan-clients.XXXXXX")
        cp -L "$VGPU_BUILD/guest-tools/vgpu-client" "$VGPU_BUILD/guest-tools/libvgpu.so.0" \
            "$top/build/guest-tools/vgpu-client-static" "$clients/"
        VGPU_GUEST_TOOLS_BUILD=$clients asan_run "$t" "$top/build/tests/vgpu-client-test" --tap
        rm -rf "$clients"
    else
        asan_run "$t" "$VGPU_BUILD/tests/$t" --tap
    fi
done
asan_done
