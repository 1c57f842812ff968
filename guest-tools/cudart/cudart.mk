# The guest's CUDA runtime: libcudart.so.13, which programs built with
# `nvcc -cudart shared` load in place of NVIDIA's, and which runs their
# calls through the vgpu-stub device (docs/cuda.md).  It takes its types
# from the CUDA toolkit's headers, so it is built only where nvcc is
# (NVCC, CUDA_HOME: backend-cuda/backend-cuda.mk); at run time it needs
# libc and libvgpu.so.0 alone.  Also here: its unit test, the nvcc-built
# programs the tests run on it (tests/cuda/), and make install-cudart.

CUDART_DIR      := $(GT)/cudart
CUDART_SO       := $(CUDART_DIR)/libcudart.so.13
CUDART_SRCS     := $(wildcard guest-tools/cudart/*.c)
CUDART_OBJS     := $(CUDART_SRCS:%.c=$(B)/%.o)
CUDART_HEADERS  := $(wildcard guest-tools/cudart/*.h) $(LIBVGPU_HEADERS)
CUDART_COMMON   := $(B)/common/codec.o $(B)/common/ops.o $(B)/common/cuda-batch.o
CUDART_CFLAGS   := $(GUEST_CFLAGS) -I$(CUDA_HOME)/include -fvisibility=hidden
CUDART_LIBDIR   ?= $(LIBDIR)/vgpu-cuda

# The nvcc-built programs: each checks its own results (tests/cuda/, run
# by tests/cuda/run-programs.sh; natively by make gpu-test).
CUDA_TEST_PROGRAMS := $(patsubst tests/cuda/%.cu,$(B)/tests/cuda/%,$(wildcard tests/cuda/*.cu))
CUDART_TEST_APP    := $(B)/tests/cudart-test-app.so
CUDART_TEST_MANAGED := $(B)/tests/cudart-test-managed.so

ifneq ($(NVCC),)
ALL_TARGETS   += $(CUDART_SO)
UNIT_TESTS    += $(B)/tests/cudart-test $(B)/tests/parallel-copy-test
CHECK_PREREQS += $(CUDART_SO) $(CUDA_TEST_PROGRAMS)
BENCH_PREREQS += $(CUDART_SO) $(CUDA_TEST_PROGRAMS)
gpu-test-build: $(CUDART_SO) $(CUDA_TEST_PROGRAMS)
else
# After the cuda backend's entry (backend-cuda.mk is included first).
CHECK_LEFT_OUT += ; guest CUDA runtime (no nvcc): build/tests/cudart-test build/tests/parallel-copy-test tests/e2e/cuda-no-device.t \
                  tests/cuda/programs-without-device.t
CHECK_SCRIPTS_LEFT_OUT += tests/e2e/cuda-no-device.t tests/cuda/programs-without-device.t
endif

# A shorter stem than guest-tools.mk's rule: this one wins for these objects.
$(B)/guest-tools/cudart/%.o: guest-tools/cudart/%.c $(CUDART_HEADERS) $(COMMON_HEADERS)
	$(need_nvcc)
	@mkdir -p $(@D)
	$(CC) $(CUDART_CFLAGS) $(CFLAGS) -c -o $@ $<

$(CUDART_SO): $(CUDART_OBJS) $(CUDART_COMMON) guest-tools/cudart/libcudart.map $(GT)/libvgpu.so
	$(CC) -shared $(CFLAGS) $(LDFLAGS) -Wl,-soname,libcudart.so.13 \
	    -Wl,--version-script=guest-tools/cudart/libcudart.map -Wl,-z,defs \
	    -o $@ $(CUDART_OBJS) $(CUDART_COMMON) -L$(GT) -lvgpu -lpthread

$(B)/tests/cuda/%: tests/cuda/%.cu tests/cuda/cuda-check.h
	$(need_nvcc)
	@mkdir -p $(@D)
	$(NVCC) -cudart shared -O2 -o $@ $<

$(B)/tests/cudart-test-%.so: tests/unit/cudart-test-%.cu
	$(need_nvcc)
	@mkdir -p $(@D)
	$(NVCC) -cudart shared -shared -Xcompiler -fPIC -O2 -o $@ $<

# The unit test calls the library as a program does (linked against it, and
# against libvgpu.so.0, which the library's own lookup would not find in
# the build tree: a RUNPATH is not inherited),
# loads the nvcc-built app into itself, and runs the nvcc-built programs;
# the pure modules (heap, layout, fat binary) it compiles in to test alone.
$(B)/tests/fake-cuda.o: tests/unit/fake-cuda.c tests/unit/fake-cuda.h $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_TEST_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/parallel-copy-test: tests/unit/parallel-copy-test.c guest-tools/cudart/parallel-copy.c \
                               $(CUDART_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_TEST_CFLAGS) -Iguest-tools/cudart -I$(CUDA_HOME)/include $(CFLAGS) -o $@ $< \
	    guest-tools/cudart/parallel-copy.c -lpthread $(GLIB_LIBS)

$(B)/tests/cudart-test: tests/unit/cudart-test.c $(B)/tests/fake-cuda.o $(GUEST_FAKE_OBJS) \
                        $(CUDART_SO) $(CUDART_TEST_APP) $(CUDART_TEST_MANAGED) $(CUDA_TEST_PROGRAMS) \
                        $(COMMON_LIB) \
                        guest-tools/cudart/window-heap.c guest-tools/cudart/window-layout.c \
                        guest-tools/cudart/fatbin.c $(CUDART_HEADERS)
	$(CC) $(GUEST_TEST_CFLAGS) -Iguest-tools/cudart -I$(CUDA_HOME)/include $(CFLAGS) \
	    -DCUDART_BUILD='"$(abspath $(CUDART_DIR))"' -DCUDART_TEST_APP='"$(abspath $(CUDART_TEST_APP))"' \
	    -DCUDART_TEST_MANAGED='"$(abspath $(CUDART_TEST_MANAGED))"' \
	    -DCUDA_TEST_PROGRAMS='"$(abspath $(B)/tests/cuda)"' -DCUDA_HOME='"$(CUDA_HOME)"' \
	    -o $@ $< guest-tools/cudart/window-heap.c guest-tools/cudart/window-layout.c \
	    guest-tools/cudart/fatbin.c $(B)/tests/fake-cuda.o $(GUEST_FAKE_OBJS) \
	    -L$(CUDART_DIR) -l:libcudart.so.13 -L$(GT) -Wl,--push-state,--no-as-needed -lvgpu -Wl,--pop-state \
	    -Wl,-rpath,$(abspath $(CUDART_DIR)):$(abspath $(GT)) \
	    $(COMMON_LIB) $(GLIB_LIBS) -ldl -lpthread -lm

# Where the loader finds it: LD_LIBRARY_PATH=$(CUDART_LIBDIR) for one
# program, or the ld.so.conf.d entry (then ldconfig) for all (docs/cuda.md).
# CUDART_LIBDIR=$(LIBDIR) puts it where the loader looks anyway, with no
# entry (the Debian package, whose policy leaves the search path alone).
.PHONY: install-cudart
install-cudart: $(CUDART_SO)
	$(INSTALL) -d $(DESTDIR)$(CUDART_LIBDIR)
	$(INSTALL) -m 0644 $(CUDART_SO) $(DESTDIR)$(CUDART_LIBDIR)/libcudart.so.13
	$(if $(filter $(LIBDIR),$(CUDART_LIBDIR)),,$(INSTALL) -d $(DESTDIR)$(SYSCONFDIR)/ld.so.conf.d && \
	    echo '$(CUDART_LIBDIR)' > $(DESTDIR)$(SYSCONFDIR)/ld.so.conf.d/vgpu-cuda.conf)
