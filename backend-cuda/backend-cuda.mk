# The cuda backend: the plugin libvgpu-backend-cuda.so (no CUDA in it), its
# GPU worker program vgpu-cuda-worker (CUDA, nvcc) and the VMs' CUDA worker
# vgpu-cuda-vm (the driver API: libcuda.so.1 at run time), side by side; see
# backend-cuda/cuda-worker.h and vm-worker.h.  Built when the CUDA toolkit is here (NVCC= or
# /usr/local/cuda).  The worker links the static CUDA runtime and cuBLAS
# (for SGEMM): at run time it needs the driver's libcuda.so.1 and cuBLAS's
# libcublas.so.13 and libcublasLt.so.13 (found through the toolkit's lib64,
# an rpath, or the loader's path), and without a driver it says so.
NVCC        ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA_HOME   ?= $(patsubst %/bin/nvcc,%,$(NVCC))
# Turing to Hopper as machine code, plus PTX for newer GPUs to JIT.
CUDA_GENCODE ?= -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
                -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 \
                -gencode arch=compute_90,code=[sm_90,compute_90]

CUDA_PLUGIN       := $(B)/plugins/libvgpu-backend-cuda.so
CUDA_WORKER       := $(B)/plugins/vgpu-cuda-worker
CUDA_VM_WORKER    := $(B)/plugins/vgpu-cuda-vm
CUDA_FAULT_PLUGIN := $(B)/test-plugins/libvgpu-backend-cuda.so
CUDA_FAULT_WORKER := $(B)/test-plugins/vgpu-cuda-worker
CUDA_FLOOR        := $(B)/bench/cuda-floor
CUDA_WINDOW_BENCH := $(B)/bench/window-bench
CUDA_HEADERS := backend-cuda/backend-cuda-kernels.h backend-cuda/cuda-worker.h \
                backend-cuda/cuda-child.h backend-cuda/vm-sessions.h backend-cuda/vm-worker.h \
                backend-cuda/vm-objects.h include/vgpu/backend.h $(COMMON_HEADERS)
CUDA_PLUGIN_SRCS := backend-cuda/backend-cuda.c backend-cuda/cuda-child.c backend-cuda/vm-sessions.c
CUDA_VM_SRCS := backend-cuda/vm-worker.c backend-cuda/vm-calls.c backend-cuda/vm-objects.c
# The driver API: linked against the toolkit's stub, the driver's libcuda.so.1 at run time.
CUDA_DRIVER_LDLIBS := -L$(CUDA_HOME)/lib64/stubs -lcuda
CUDA_LDLIBS  := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lpthread -lrt -lstdc++
CUBLAS_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas

# The checks of what a VM may name: plain C, tested on any host.
UNIT_TESTS += $(B)/tests/vm-objects-test
$(B)/tests/vm-objects-test: tests/unit/vm-objects-test.c backend-cuda/vm-objects.c \
                            backend-cuda/vm-objects.h
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -Ibackend-cuda -o $@ $< backend-cuda/vm-objects.c \
	    $(GLIB_LIBS)

# Without nvcc the cuda backend is left out: not built, not installed, its
# tests not run, and `make check` says so in one line above its count.
ifneq ($(NVCC),)
ALL_TARGETS += $(CUDA_PLUGIN) $(CUDA_WORKER) $(CUDA_VM_WORKER)
UNIT_TESTS += $(B)/tests/vm-calls-test
INSTALL_TARGETS += install-cuda-plugin
BENCH_PREREQS += $(CUDA_FLOOR) $(CUDA_WINDOW_BENCH)
UNIT_TESTS += $(B)/tests/cuda-plugin-test
CHECK_PREREQS += $(CUDA_WORKER) $(CUDA_VM_WORKER)
else
CHECK_LEFT_OUT += cuda backend (no nvcc; install the CUDA toolkit or set NVCC=): \
                  build/tests/cuda-plugin-test build/tests/vm-calls-test tests/mediator/cuda-without-gpu.t
CHECK_SCRIPTS_LEFT_OUT += tests/mediator/cuda-without-gpu.t
endif

define need_nvcc
	@test -n "$(NVCC)" || { echo "nvcc not found: install the CUDA toolkit (/usr/local/cuda) or set NVCC=" >&2; exit 1; }
endef

$(CUDA_PLUGIN) $(CUDA_FAULT_PLUGIN): %/libvgpu-backend-cuda.so: $(CUDA_PLUGIN_SRCS) \
                                     $(CUDA_HEADERS) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -fvisibility=hidden -Ibackend-cuda -shared \
	    -Wl,-z,defs -Wl,--exclude-libs,ALL -o $@ $(CUDA_PLUGIN_SRCS) $(COMMON_LIB) -ldl -lpthread

$(B)/plugins/obj/backend-cuda-kernels.o: backend-cuda/backend-cuda-kernels.cu $(CUDA_HEADERS)
	$(need_nvcc)
	@mkdir -p $(@D)
	$(NVCC) $(CUDA_GENCODE) -O2 -std=c++17 -Iinclude -Ibackend-cuda -c -o $@ $<
$(B)/test-plugins/obj/backend-cuda-kernels.o: backend-cuda/backend-cuda-kernels.cu $(CUDA_HEADERS) \
                                              | $(B)/plugins/obj/backend-cuda-kernels.o
	@mkdir -p $(@D)
	$(NVCC) $(CUDA_GENCODE) -O2 -std=c++17 -DVGPU_CUDA_FAULT_INJECTION -Iinclude -Ibackend-cuda \
	    -c -o $@ $<

# Test build: VECTOR_ADD with first operand VGPU_CUDA_FAULT_OPERAND runs an illegal store.
$(CUDA_WORKER): CUDA_DEFS :=
$(CUDA_FAULT_WORKER): CUDA_DEFS := -DVGPU_CUDA_FAULT_INJECTION
$(CUDA_WORKER) $(CUDA_FAULT_WORKER): %/vgpu-cuda-worker: backend-cuda/cuda-worker.c \
                                     %/obj/backend-cuda-kernels.o $(CUDA_HEADERS) $(COMMON_LIB)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(CUDA_DEFS) -I$(CUDA_HOME)/include -Ibackend-cuda -o $@ \
	    $< $*/obj/backend-cuda-kernels.o $(COMMON_LIB) $(CUBLAS_LDLIBS) $(CUDA_LDLIBS)

# A VM's batch runner on a stand-in for the CUDA driver: its refusals, without a GPU.
$(B)/tests/vm-calls-test: tests/unit/vm-calls-test.c tests/unit/fake-libcuda.c \
                          tests/unit/fake-libcuda.h backend-cuda/vm-calls.c backend-cuda/vm-objects.c \
                          $(CUDA_HEADERS) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(GLIB_CFLAGS) -I$(CUDA_HOME)/include -Ibackend-cuda -Itests/unit \
	    -o $@ $< tests/unit/fake-libcuda.c backend-cuda/vm-calls.c backend-cuda/vm-objects.c \
	    $(COMMON_LIB) $(GLIB_LIBS)

# The VMs' CUDA worker, in the test plugin directory too (the fault tests' plugin runs it).
$(CUDA_VM_WORKER) $(B)/test-plugins/vgpu-cuda-vm: %/vgpu-cuda-vm: $(CUDA_VM_SRCS) $(CUDA_HEADERS) \
                                                   $(COMMON_LIB)
	$(need_nvcc)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -I$(CUDA_HOME)/include -Ibackend-cuda -o $@ \
	    $(CUDA_VM_SRCS) $(COMMON_LIB) $(CUDA_DRIVER_LDLIBS)

.PHONY: install-cuda-plugin
install-cuda-plugin: $(CUDA_PLUGIN) $(CUDA_WORKER) $(CUDA_VM_WORKER)
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/vgpu/backends
	$(INSTALL) -m 0644 $(CUDA_PLUGIN) $(DESTDIR)$(LIBDIR)/vgpu/backends/
	$(INSTALL) -m 0755 $(CUDA_WORKER) $(CUDA_VM_WORKER) $(DESTDIR)$(LIBDIR)/vgpu/backends/

# The raw CUDA floor benchmark (bench/cuda-floor.c): the backend's own kernel.
$(CUDA_FLOOR): bench/cuda-floor.c $(B)/plugins/obj/backend-cuda-kernels.o
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -I$(CUDA_HOME)/include -Ibackend-cuda -o $@ $< \
	    $(B)/plugins/obj/backend-cuda-kernels.o $(CUDA_LDLIBS)

# The data window through the mediator against plain CUDA and cuBLAS
# (bench/window-bench.c, run by bench/window-bench.sh from `make bench`).
$(CUDA_WINDOW_BENCH): bench/window-bench.c $(B)/plugins/obj/backend-cuda-kernels.o \
                      $(B)/tests/wire-client.o $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -D_GNU_SOURCE -I$(CUDA_HOME)/include -Ibackend-cuda \
	    -Itests/mediator -o $@ $< $(B)/plugins/obj/backend-cuda-kernels.o \
	    $(B)/tests/wire-client.o $(COMMON_LIB) $(CUBLAS_LDLIBS) $(CUDA_LDLIBS) -lm

include tests/gpu/gpu-tests.mk
