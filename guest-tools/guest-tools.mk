# The guest tools: libvgpu (static and shared), vgpu-client (dynamic, and a
# static build for busybox guests without a libc), man pages, udev rule and
# sysusers entry; the CUDA runtime libcudart.so.13 where nvcc is
# (cudart/cudart.mk).  See docs/guest-tools.md.

GUEST_SOVERSION  := 0
GT               := $(B)/guest-tools
UDEVRULESDIR     ?= /lib/udev/rules.d
SYSUSERSDIR      ?= /usr/lib/sysusers.d

# _GNU_SOURCE: secure_getenv, pthread_mutex_clocklock.
GUEST_CFLAGS     := $(VGPU_CFLAGS) -D_GNU_SOURCE -Iguest-tools -DVGPU_TOOLS_VERSION='"$(VGPU_VERSION)"'

LIBVGPU_SRCS     := guest-tools/device.c guest-tools/sysfs.c guest-tools/bar.c \
                    guest-tools/window.c guest-tools/irq.c guest-tools/backoff.c \
                    guest-tools/result.c guest-tools/host-link.c
# identity.o: the host link parses $VGPU_VM_UUID.
LIBVGPU_OBJS     := $(LIBVGPU_SRCS:%.c=$(B)/%.o) $(B)/common/codec.o $(B)/common/ops.o \
                    $(B)/common/identity.o
LIBVGPU_HEADERS  := $(wildcard guest-tools/*.h) $(COMMON_HEADERS)
LIBVGPU_A        := $(GT)/libvgpu.a
LIBVGPU_SO_REAL  := $(GT)/libvgpu.so.$(VGPU_VERSION)
LIBVGPU_SO_NAME  := libvgpu.so.$(GUEST_SOVERSION)

CLIENT_SRCS      := guest-tools/client.c guest-tools/client-ops.c guest-tools/client-output.c
# The client encodes the requests of --unchecked itself: codec and ops too
# (libvgpu.so keeps its own copies private).  -lm: fmaf, for SAXPY's check.
CLIENT_OBJS      := $(CLIENT_SRCS:%.c=$(B)/%.o) $(B)/common/identity.o $(B)/common/codec.o \
                    $(B)/common/ops.o
VGPU_CLIENT      := $(GT)/vgpu-client
VGPU_CLIENT_STATIC := $(GT)/vgpu-client-static
GUEST_MAN_PAGES  := guest-tools/vgpu-client.1 guest-tools/libvgpu.3
# Each public function has its own man page name, pointing at libvgpu(3).
GUEST_MAN_ALIASES := vgpu_device_open vgpu_device_close vgpu_device_info vgpu_device_submit \
                     vgpu_device_vector_add vgpu_device_window vgpu_device_window_lock \
                     vgpu_device_window_unlock vgpu_device_run_op vgpu_result_name \
                     vgpu_result_message vgpu_last_error vgpu_wait_mode_name vgpu_wait_mode_parse
# The contract headers vgpu.h includes, and theirs (ops.h: codec.h: wire.h).
GUEST_CONTRACT_HEADERS := regs.h protocol.h errors.h ops.h codec.h wire.h

ALL_TARGETS     += $(LIBVGPU_A) $(LIBVGPU_SO_REAL) $(GT)/libvgpu.so $(VGPU_CLIENT) \
                   $(VGPU_CLIENT_STATIC) $(GT)/vgpu.pc $(GT)/60-vgpu.rules
INSTALL_TARGETS += install-guest-tools

$(B)/guest-tools/%.o: guest-tools/%.c $(LIBVGPU_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) $(CFLAGS) -c -o $@ $<

# The client's reference results must be computed exactly as written: no
# a * b + c contracted into an fma where the target has one.
$(B)/guest-tools/client-ops.o: GUEST_CFLAGS += -ffp-contract=off

$(LIBVGPU_A): $(LIBVGPU_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBVGPU_SO_REAL): $(LIBVGPU_OBJS) guest-tools/libvgpu.map
	@mkdir -p $(@D)
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -Wl,-soname,$(LIBVGPU_SO_NAME) \
	    -Wl,--version-script=guest-tools/libvgpu.map -Wl,-z,defs \
	    -o $@ $(LIBVGPU_OBJS) -lpthread

$(GT)/libvgpu.so: $(LIBVGPU_SO_REAL)
	ln -sf $(notdir $<) $(GT)/$(LIBVGPU_SO_NAME)
	ln -sf $(LIBVGPU_SO_NAME) $@

# Linked against the shared library, as packages ship it.
$(VGPU_CLIENT): $(CLIENT_OBJS) $(GT)/libvgpu.so
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLIENT_OBJS) -L$(GT) -lvgpu -lm

# No shared libraries at all: it runs in a busybox initramfs.
$(VGPU_CLIENT_STATIC): $(CLIENT_OBJS) $(LIBVGPU_A)
	$(CC) -static $(CFLAGS) $(LDFLAGS) -o $@ $(CLIENT_OBJS) $(LIBVGPU_A) -lpthread -lm

# vgpu.pc for the prefix given now; install regenerates it for its own.
GUEST_PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
                   -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VGPU_VERSION)|'

$(GT)/vgpu.pc: guest-tools/vgpu.pc.in
	@mkdir -p $(@D)
	$(GUEST_PC_SED) $< > $@

# The PCI ids in the udev rule come from the contract header, in sysfs's lower case.
GUEST_ID_OF = $$(sed -n 's/^\#define $(1) *0x\([0-9a-fA-F]*\).*/\1/p' include/vgpu/regs.h | tr A-F a-f)

$(GT)/60-vgpu.rules: guest-tools/60-vgpu.rules.in include/vgpu/regs.h
	@mkdir -p $(@D)
	vendor=$(call GUEST_ID_OF,VGPU_PCI_VENDOR_ID); device=$(call GUEST_ID_OF,VGPU_PCI_DEVICE_ID); \
	    test -n "$$vendor" && test -n "$$device" && \
	    sed -e "s|@VENDOR_ID@|$$vendor|g" -e "s|@DEVICE_ID@|$$device|g" $< > $@

.PHONY: install-guest-tools
install-guest-tools: $(LIBVGPU_A) $(GT)/libvgpu.so $(VGPU_CLIENT) $(GT)/60-vgpu.rules
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(INCLUDEDIR)/vgpu $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	    $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 $(VGPU_CLIENT) $(DESTDIR)$(BINDIR)/vgpu-client
	$(INSTALL) -m 0644 $(LIBVGPU_A) $(DESTDIR)$(LIBDIR)/libvgpu.a
	$(INSTALL) -m 0755 $(LIBVGPU_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIBVGPU_SO_REAL)) $(DESTDIR)$(LIBDIR)/$(LIBVGPU_SO_NAME)
	ln -sf $(LIBVGPU_SO_NAME) $(DESTDIR)$(LIBDIR)/libvgpu.so
	$(GUEST_PC_SED) guest-tools/vgpu.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/vgpu.pc
	$(INSTALL) -m 0644 guest-tools/vgpu.h $(DESTDIR)$(INCLUDEDIR)/vgpu.h
	$(INSTALL) -m 0644 $(GUEST_CONTRACT_HEADERS:%=include/vgpu/%) $(DESTDIR)$(INCLUDEDIR)/vgpu/
	$(INSTALL) -m 0644 guest-tools/vgpu-client.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 guest-tools/libvgpu.3 $(DESTDIR)$(MANDIR)/man3/
	for f in $(GUEST_MAN_ALIASES); do \
	    echo '.so man3/libvgpu.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; \
	done
	$(INSTALL) -m 0644 $(GT)/60-vgpu.rules $(DESTDIR)$(UDEVRULESDIR)/60-vgpu.rules
	$(INSTALL) -m 0644 guest-tools/vgpu-guest.sysusers $(DESTDIR)$(SYSUSERSDIR)/vgpu-guest.conf

# Unit tests: libvgpu (internal modules too) and the real vgpu-client
# binaries, both against the fake sysfs and mock device of fake-vgpu.c.
JSON_GLIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags json-glib-1.0 2>/dev/null)
JSON_GLIB_LIBS   := $(shell $(PKG_CONFIG) --libs json-glib-1.0 2>/dev/null)
GUEST_TEST_CFLAGS := $(GUEST_CFLAGS) $(GLIB_CFLAGS) -Itests/unit
GUEST_FAKE_OBJ   := $(B)/tests/fake-vgpu.o
# The fake answers CUDA batches as a pool without a GPU does (cuda-batch.o).
GUEST_FAKE_OBJS  := $(GUEST_FAKE_OBJ) $(B)/common/cuda-batch.o

UNIT_TESTS += $(B)/tests/libvgpu-test $(B)/tests/vgpu-client-test

$(GUEST_FAKE_OBJ): tests/unit/fake-vgpu.c tests/unit/fake-vgpu.h $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_TEST_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/libvgpu-test: tests/unit/libvgpu-test.c $(GUEST_FAKE_OBJS) $(LIBVGPU_A) $(LIBVGPU_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_TEST_CFLAGS) $(CFLAGS) -o $@ $< $(GUEST_FAKE_OBJS) $(LIBVGPU_A) $(GLIB_LIBS) -lpthread -lm

$(B)/tests/vgpu-client-test: tests/unit/vgpu-client-test.c $(GUEST_FAKE_OBJS) $(LIBVGPU_A) \
                             $(VGPU_CLIENT) $(VGPU_CLIENT_STATIC)
	@mkdir -p $(@D)
	$(CC) $(GUEST_TEST_CFLAGS) $(JSON_GLIB_CFLAGS) -DGUEST_TOOLS_BUILD='"$(abspath $(GT))"' \
	    $(CFLAGS) -o $@ $< $(GUEST_FAKE_OBJS) $(LIBVGPU_A) $(JSON_GLIB_LIBS) $(GLIB_LIBS) -lpthread -lm

include guest-tools/cudart/cudart.mk

# The host link's CUDA test runs an nvcc-built program on libcudart.so.13.
ifeq ($(NVCC),)
CHECK_LEFT_OUT += tests/mediator/host-link-cuda.t
CHECK_SCRIPTS_LEFT_OUT += tests/mediator/host-link-cuda.t
endif
