#!/bin/bash
# vgpu-stub's properties on the QEMU command line: help lists them, and bad
# values stop QEMU with a clear error instead of starting a broken device.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 8

help=$(timeout 30 "$QEMU" -device vgpu-stub,help 2>&1)
like "$help" "chardev=<str>" "help lists the chardev property"
like "$help" "timeout-ms=<uint32> +- .*\(default: 30000\)" "help lists timeout-ms with its default"
like "$help" "window-size=<size> +- .*\(default: 67108864\)" "help lists window-size with its default (64 MiB)"
like "$help" "memdev=<link<memory-backend>> +- .*memory-backend-memfd" "help lists memdev"

run() {     # QEMU with a vgpu-stub option string; prints its output
    timeout 30 "$QEMU" -machine q35 -accel qtest -nodefaults -display none -S \
        -monitor none -serial none "$@" </dev/null 2>&1
}

out=$(run -device vgpu-stub,timeout-ms=0)
is $? 1 "timeout-ms=0 stops QEMU at start"
like "$out" "timeout-ms must be at least 1" "timeout-ms=0 says why"

out=$(run -device vgpu-stub,chardev=nosuch)
like "$out" "nosuch" "a chardev that does not exist is named in the error"

out=$(run -chardev null,id=c0 -device vgpu-stub,chardev=c0 -device vgpu-stub,chardev=c0)
like "$out" "c0.*(in use|busy)|(in use|busy).*c0" "one chardev cannot serve two devices"
