# libvirt integration: the hook vgpu-libvirt-hook and the domain XML
# helpers (libvgpu-libvirt.a) that it and `vgpuctl attach/detach` share.

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
	rm -f $@
	$(AR) rcs $@ $^

# Unit tests of the XML helpers (no libvirt, no mediator).
LVH_TESTS := $(B)/tests/metadata-test $(B)/tests/qemu-pid-test $(B)/tests/domain-edit-test
UNIT_TESTS += $(LVH_TESTS)

$(LVH_TESTS): $(B)/tests/%: tests/unit/%.c $(LVH_LIB) $(COMMON_LIB) $(LVH_HEADERS) $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(LVH_CFLAGS) -Ilibvirt-hooks -DLVH_TEST_DATA='"$(CURDIR)/tests/libvirt/data"' \
	    -o $@ $< $(LVH_LIBS)

# The hook: the XML helpers, and the control client to reach the mediator.
LVH_HOOK := $(B)/vgpu-libvirt-hook

ALL_TARGETS += $(LVH_HOOK)

$(B)/libvirt-hooks/hook.o: libvirt-hooks/hook.c $(LVH_HEADERS) $(CONTROL_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(LVH_CFLAGS) $(CONTROL_CFLAGS) -DVGPU_VERSION='"$(VGPU_VERSION)"' -c -o $@ $<

$(LVH_HOOK): $(B)/libvirt-hooks/hook.o $(LVH_LIB) $(CONTROL_LIB) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(CONTROL_LIBS) $(LIBXML_LIBS)

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
	$(INSTALL) -m 0644 libvirt-hooks/vgpu-libvirt-hook.8 $(DESTDIR)$(MANDIR)/man8/
	@[ -n "$(DESTDIR)" ] || echo "installed the libvirt hook: reload libvirtd to use it" \
	    "(systemctl reload libvirtd, or kill -HUP the libvirtd process)"
