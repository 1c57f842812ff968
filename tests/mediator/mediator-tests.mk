# The mediator's test helpers (fake device, test backend plugins, latency
# benchmark) and unit tests.  Included from mediator/mediator.mk.
MEDIATOR_TEST_BINS := $(B)/tests/fake-device $(B)/tests/window-client $(B)/tests/mediator-latency-bench
MEDIATOR_TEST_PLUGINS := $(addprefix $(B)/tests/plugins/libvgpu-backend-, \
                           test.so badabi.so noentry.so)
MEDIATOR_UNIT_TESTS := $(addprefix $(B)/tests/, queue-test registry-test config-test \
                         control-proto-test stats-test)

UNIT_TESTS    += $(MEDIATOR_UNIT_TESTS)
CHECK_PREREQS += $(MEDIATOR_TEST_BINS) $(MEDIATOR_TEST_PLUGINS)
BENCH_PREREQS += $(B)/tests/mediator-latency-bench $(B)/vgpu-mediatord

$(B)/tests/wire-client.o: tests/mediator/wire-client.c tests/mediator/wire-client.h $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/fake-device: tests/mediator/fake-device.c $(B)/tests/wire-client.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -Itests/mediator -o $@ $^ $(GLIB_LIBS)

$(B)/tests/window-client: tests/mediator/window-client.c $(B)/tests/wire-client.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -Itests/mediator -o $@ $^ $(GLIB_LIBS) -lm

$(B)/tests/mediator-latency-bench: tests/mediator/latency-bench.c $(B)/tests/wire-client.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -Itests/mediator -o $@ $^ $(GLIB_LIBS) -pthread

# The test plugin links nothing of the mediator but the codec's accessors.
$(B)/tests/plugins/libvgpu-backend-test.so: tests/mediator/test-backend.c include/vgpu/backend.h $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -shared -o $@ $< $(COMMON_LIB)
$(B)/tests/plugins/libvgpu-backend-badabi.so: tests/mediator/test-backend.c include/vgpu/backend.h $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -DTEST_BACKEND_ABI=99 \
	    -DTEST_BACKEND_NAME='"badabi"' -shared -o $@ $< $(COMMON_LIB)
$(B)/tests/plugins/libvgpu-backend-noentry.so: tests/mediator/test-backend.c include/vgpu/backend.h $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -DTEST_BACKEND_NO_ENTRY -shared -o $@ $< $(COMMON_LIB)

$(MEDIATOR_UNIT_TESTS): $(B)/tests/%: tests/unit/%.c $(MEDIATOR_LIB) $(CONTROL_LIB) $(COMMON_LIB) \
                        $(MEDIATOR_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(MEDIATOR_CFLAGS) -DVGPU_SRCDIR='"$(CURDIR)"' \
	    -o $@ $< $(MEDIATOR_LIB) $(CONTROL_LIB) $(COMMON_LIB) \
	    $(MEDIATOR_LIBS)
