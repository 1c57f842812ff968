# make check, sanitized (docs/testing.md, "Sanitizers"): the daemon, the
# tools, the unit tests and the mediator's test helpers built again with
# ASan and UBSan (LSan with them, nothing recovers) into $(ASAN_B)/, with
# objects of their own apart from build/, and run by tests/asan/unit.t and
# tests/asan/mediator.t.
#
#   make asan-build    build them (make check does it too)
#
# The build is this Makefile again with B=$(ASAN_B) and the sanitizer
# CFLAGS: every rule as in the normal build, only the outputs move.

ASAN_B      := build-asan
# -static-libubsan: with GCC's shared libubsan beside libasan, UBSan ignores
# UBSAN_OPTIONS=log_path and writes its reports to stderr only; linked into
# each program it writes them to the files tests/asan/lib.sh looks at.
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=all -static-libubsan

# The unit tests run sanitized (tests/asan/unit.t has the same list): all but
# the QEMU device tests (the device runs in QEMU, which is not built with
# the sanitizers), vgpu-client-test (it runs the sanitized vgpu-client, but
# is itself the normal build's: it needs the static client, which ASan
# cannot link) and the cuda plugin's.
ASAN_UNIT_TESTS := codec-test identity-test queue-test registry-test config-test \
                   control-proto-test stats-test metadata-test qemu-pid-test \
                   domain-edit-test libvgpu-test

ifneq ($(SANITIZED_CHECKS),no)        # as in tests/fuzz/fuzz.mk
CHECK_PREREQS += asan-build
endif
.PHONY: asan-build asan-targets clean-asan

# Other flags than the build was made with: a build from nothing.
asan-build:
	@echo '$(ASAN_CFLAGS)' | cmp -s - $(ASAN_B)/cflags 2>/dev/null || \
	    { rm -rf $(ASAN_B) && mkdir -p $(ASAN_B) && echo '$(ASAN_CFLAGS)' > $(ASAN_B)/cflags; }
	@$(MAKE) --no-print-directory B=$(ASAN_B) CFLAGS='$(ASAN_CFLAGS)' asan-targets

# Only meaningful in that sub-make, where $(B) is $(ASAN_B).
asan-targets: $(B)/vgpu-mediatord $(B)/vgpuctl $(LVH_HOOK) $(VGPU_CLIENT) \
              $(ASAN_UNIT_TESTS:%=$(B)/tests/%) $(B)/tests/fake-device $(B)/tests/window-client \
              $(MEDIATOR_TEST_PLUGINS)

# In that sub-make: the fake devices, test helpers, are checked for memory
# errors but not for leaks (no-leak-check.c says why).
ifeq ($(B),$(ASAN_B))
$(B)/tests/no-leak-check.o: tests/asan/no-leak-check.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
$(B)/tests/fake-device $(B)/tests/window-client: $(B)/tests/no-leak-check.o
endif

clean: clean-asan
clean-asan:
	rm -rf $(ASAN_B)
