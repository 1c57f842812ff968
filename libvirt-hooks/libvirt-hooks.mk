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
