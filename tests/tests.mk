# Unit tests: one GLib gtest program per module, tests/unit/<name>-test.c.
GLIB_CFLAGS := $(shell $(PKG_CONFIG) --cflags glib-2.0 2>/dev/null)
GLIB_LIBS   := $(shell $(PKG_CONFIG) --libs glib-2.0 2>/dev/null)

UNIT_TESTS += $(B)/tests/codec-test $(B)/tests/identity-test $(B)/tests/cuda-batch-test

$(B)/tests/codec-test $(B)/tests/identity-test $(B)/tests/cuda-batch-test: $(B)/tests/%: tests/unit/%.c $(COMMON_LIB) $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -o $@ $< $(COMMON_LIB) $(GLIB_LIBS)
