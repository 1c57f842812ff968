# The QEMU build with the vgpu-stub device (qemu-device/build-qemu.sh).
#
#   make qemu          build or reuse it; result in build/qemu/
#   make install-qemu  install it under $(QEMU_PREFIX)
#
# QEMU finds its data relative to its own binary (get_relocated_path), so
# one build serves every install location: it is always configured for the
# packages' prefix, and `make check`, `make install PREFIX=...` and the
# package builds share the one cached build.

QEMU_CONFIGURE_PREFIX := /usr/libexec/vgpu/qemu
QEMU_PREFIX ?= $(LIBEXECDIR)/vgpu/qemu
QEMU_OUT    := $(B)/qemu
QEMU_BIN    := $(QEMU_OUT)/qemu-system-x86_64

CHECK_PREREQS += qemu
DEMO_PREREQS += qemu
INSTALL_TARGETS += install-qemu

.PHONY: qemu install-qemu

# Always asks the script: it decides from the inputs' key in seconds.
# ccache's depend mode (the includes from the compiler's -MD output, no second
# preprocessor run on a miss) makes a cold compile about a fifth shorter; a
# new tree (the script or its flags changed) then finds about 70% of the old
# one's objects rather than all, as QEMU's trace headers hold the tree's path.
# It is set here because build-qemu.sh's own hash keys every cached build:
# editing the script would cost every machine a rebuild, and the previous
# release's packages (built with the previous script) a second tree.
qemu:
	@CCACHE_DEPEND=1 qemu-device/build-qemu.sh --prefix $(QEMU_CONFIGURE_PREFIX) --out $(QEMU_OUT)

# Installs the staged runtime files (only the binary today) under
# $(QEMU_PREFIX), directories 755 so that libvirt's qemu user can reach it.
# QEMU_STAGED=DIR installs from another staged tree (DIR/$(QEMU_CONFIGURE_PREFIX)/...,
# a `meson install` DESTDIR) instead of the cached build: vgpu.spec builds
# its QEMU from its Source tarball and never runs qemu-device/build-qemu.sh.
QEMU_STAGED ?=
install-qemu: $(if $(QEMU_STAGED),,qemu)
	@set -e; staged=$(if $(QEMU_STAGED),$(QEMU_STAGED),$$(readlink -f $(QEMU_OUT)/root))$(QEMU_CONFIGURE_PREFIX); \
	dest="$(DESTDIR)$(QEMU_PREFIX)"; cd "$$staged"; \
	find . -type d | while read -r d; do $(INSTALL) -d -m 755 "$$dest/$$d"; done; \
	find . -type f | while read -r f; do \
	    mode=644; [ -x "$$f" ] && mode=755; \
	    $(INSTALL) -m $$mode "$$f" "$$dest/$$f"; done
	@echo "installed QEMU with vgpu-stub: $(DESTDIR)$(QEMU_PREFIX)/bin/qemu-system-x86_64"

# Device tests: gtest programs that run this QEMU build with -accel qtest
# against a fake mediator on a real socket (tests/device/).
DEVICE_TEST_NAMES := registers request errors irq reconnect fuzz migration window window-ops kill
DEVICE_TESTS := $(DEVICE_TEST_NAMES:%=$(B)/tests/device-%-test)
DEVICE_TEST_LIB := $(B)/tests/device/qemu-harness.o $(B)/tests/device/fake-mediator.o \
                   $(B)/tests/device/real-mediator.o
DEVICE_TEST_HEADERS := $(wildcard tests/device/*.h)

UNIT_TESTS += $(DEVICE_TESTS)

$(B)/tests/device/%.o: tests/device/%.c $(DEVICE_TEST_HEADERS) $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -c -o $@ $<

$(DEVICE_TESTS): $(B)/tests/device-%-test: $(B)/tests/device/%-test.o $(DEVICE_TEST_LIB) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(GLIB_LIBS)

# The booted-guest smoke test: the guest image and a static probe.
GUEST_IMAGE := $(B)/guest-image
DEVICE_PROBE := $(B)/tests/device/vgpu-probe

CHECK_PREREQS += guest-image $(DEVICE_PROBE)
DEMO_PREREQS += guest-image
.PHONY: guest-image

guest-image:
	@scripts/guest-image.sh build --out $(GUEST_IMAGE)

$(DEVICE_PROBE): tests/device/vgpu-probe.c $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -static -o $@ $<
