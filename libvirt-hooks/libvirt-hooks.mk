# libvirt integration: the hook vgpu-libvirt-hook and the domain XML
# helpers that it and `vgpuctl attach/detach` share.

LIBXML_CFLAGS := $(shell $(PKG_CONFIG) --cflags libxml-2.0 2>/dev/null)
LIBXML_LIBS   := $(shell $(PKG_CONFIG) --libs libxml-2.0 2>/dev/null)

LVH_SRCS := libvirt-hooks/metadata.c libvirt-hooks/qemu-cmdline.c \
            libvirt-hooks/qemu-pid.c libvirt-hooks/domain-edit.c
LVH_OBJS := $(LVH_SRCS:%.c=$(B)/%.o)
LVH_LIB  := $(B)/libvirt-hooks/libvgpu-libvirt.a
LVH_HEADERS := $(wildcard libvirt-hooks/*.h)
LVH_CFLAGS  := $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) $(LIBXML_CFLAGS)
LVH_LIBS    := $(LVH_LIB) $(COMMON_LIB) $(GLIB_LIBS) $(LIBXML_LIBS)

ALL_TARGETS += $(LVH_LIB)

$(B)/libvirt-hooks/%.o: libvirt-hooks/%.c $(LVH_HEADERS) $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(LVH_CFLAGS) -c -o $@ $<

$(LVH_LIB): $(LVH_OBJS)
	$(AR) rcs $@ $^

# Unit tests of the XML helpers (no libvirt, no mediator).
LVH_TESTS := $(B)/tests/metadata-test $(B)/tests/qemu-pid-test $(B)/tests/domain-edit-test
UNIT_TESTS += $(LVH_TESTS)

$(LVH_TESTS): $(B)/tests/%: tests/unit/%.c $(LVH_LIB) $(COMMON_LIB) $(LVH_HEADERS) $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(LVH_CFLAGS) -Ilibvirt-hooks -DLVH_TEST_DATA='"$(CURDIR)/tests/libvirt/data"' \
	    -o $@ $< $(LVH_LIBS)

# The hook and vgpuctl's attach/detach use the mediator's control client
# and its names for the runtime dir and sockets (mediator/config.h).
LIBVIRT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libvirt 2>/dev/null)
LIBVIRT_LIBS   := $(shell $(PKG_CONFIG) --libs libvirt 2>/dev/null)
LVH_QEMU_EMULATOR := $(or $(QEMU_PREFIX),$(LIBEXECDIR)/vgpu/qemu)/bin/qemu-system-x86_64
LVH_PROG_CFLAGS := $(LVH_CFLAGS) $(MEDIATOR_CFLAGS) $(LIBVIRT_CFLAGS) \
                   -DVGPU_QEMU_EMULATOR='"$(LVH_QEMU_EMULATOR)"'
LVH_HOOK := $(B)/vgpu-libvirt-hook

ALL_TARGETS += $(LVH_HOOK)

$(B)/libvirt-hooks/hook.o $(B)/libvirt-hooks/vgpuctl-domain.o: \
    $(B)/libvirt-hooks/%.o: libvirt-hooks/%.c $(LVH_HEADERS) $(MEDIATOR_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(LVH_PROG_CFLAGS) -c -o $@ $<

# The hook needs only GLib, json-glib (the control client) and libxml2.
LVH_HOOK_LIBS := $(shell $(PKG_CONFIG) --libs glib-2.0 json-glib-1.0 libxml-2.0 2>/dev/null)

$(LVH_HOOK): $(B)/libvirt-hooks/hook.o $(LVH_LIB) $(CONTROL_CLIENT_LIB) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LVH_HOOK_LIBS)

# vgpuctl's attach/detach (its table lists vgpuctl_domain_commands).  The
# libraries go after the mediator's, with the common one again for ours.
$(B)/vgpuctl: $(B)/libvirt-hooks/vgpuctl-domain.o $(LVH_LIB)
$(B)/vgpuctl: MEDIATOR_LIBS += $(COMMON_LIB) $(LIBVIRT_LIBS) $(LIBXML_LIBS)

# Installation: the hook in LIBEXECDIR, and libvirtd's qemu.d entry as a
# symlink to it (not a conffile: it goes away with the package).  libvirtd
# reads hooks at start and on SIGHUP.
LVH_HOOK_DIR := $(SYSCONFDIR)/libvirt/hooks/qemu.d
INSTALL_TARGETS += install-libvirt-hooks

.PHONY: install-libvirt-hooks
install-libvirt-hooks: $(LVH_HOOK)
	$(INSTALL) -d $(DESTDIR)$(LIBEXECDIR)/vgpu $(DESTDIR)$(LVH_HOOK_DIR) $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(LVH_HOOK) $(DESTDIR)$(LIBEXECDIR)/vgpu/vgpu-libvirt-hook
	ln -sfn $(LIBEXECDIR)/vgpu/vgpu-libvirt-hook $(DESTDIR)$(LVH_HOOK_DIR)/vgpu
	$(INSTALL) -m 0644 libvirt-hooks/vgpu-libvirt-hook.8 libvirt-hooks/vgpuctl-attach.8 \
	    $(DESTDIR)$(MANDIR)/man8/
	@[ -n "$(DESTDIR)" ] || echo "installed the libvirt hook: reload libvirtd to use it" \
	    "(systemctl reload libvirtd, or kill -HUP the libvirtd process)"
