# The GPU checks (make gpu-test), and the cuda backend's unit test;
# included from backend-cuda/backend-cuda.mk.  cuda-backend-test drives the
# plugin through the daemon's backend loader (libvgpu-mediator.a).

$(B)/tests/cuda-plugin-test: tests/unit/cuda-plugin-test.c include/vgpu/backend.h $(CUDA_PLUGIN) \
                             $(CUDA_WORKER)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -Ibackend-cuda $(shell $(PKG_CONFIG) --cflags gmodule-2.0) \
	    -DVGPU_CUDA_PLUGIN_PATH='"$(abspath $(CUDA_PLUGIN))"' -o $@ $< \
	    $(shell $(PKG_CONFIG) --libs gmodule-2.0)

# The GPU checks (`make gpu-test`, on a host with an NVIDIA GPU; see
# docs/gpu.md): the plugin against the CPU backend and with a GPU fault, and
# the mediator's integration tests with pools on the GPU.
GPU_TESTS := $(B)/tests/cuda-backend-test $(B)/tests/cuda-vm-test $(sort $(wildcard tests/gpu/*.t))
# The mediator's integration tests that hold for any backend, rerun with
# their pools on GPU 0 (VGPU_TEST_BACKEND=cuda; see tests/mediator/lib.sh).
GPU_MEDIATOR_TESTS := $(addprefix tests/mediator/, priority-order.t aging.t stats-exact.t \
    unregistered-refused.t peer-pid-checked.t malformed-clients.t sigterm-drains.t \
    stuck-peer.t control-socket.t vgpuctl-cli.t cancel-gauges.t window-ops.t)

$(B)/tests/cuda-backend-test: tests/gpu/cuda-backend-test.c $(CUDA_PLUGIN) $(CUDA_WORKER) \
                              $(CUDA_FAULT_PLUGIN) $(CUDA_FAULT_WORKER) \
                              $(MEDIATOR_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(MEDIATOR_CFLAGS) -Ibackend-cuda \
	    -DVGPU_CUDA_PLUGIN_PATH='"$(abspath $(CUDA_PLUGIN))"' \
	    -DVGPU_CUDA_FAULT_PLUGIN_PATH='"$(abspath $(CUDA_FAULT_PLUGIN))"' \
	    -o $@ $< $(MEDIATOR_LIB) $(COMMON_LIB) $(MEDIATOR_LIBS)

# The VMs' CUDA workers through the plugin, with kernels nvcc built into a fat binary.
$(B)/tests/vm-test-kernels.fatbin: tests/gpu/vm-test-kernels.cu
	$(need_nvcc)
	@mkdir -p $(@D)
	$(NVCC) $(CUDA_GENCODE) -fatbin -o $@ $<
$(B)/tests/cuda-vm-test: tests/gpu/cuda-vm-test.c $(B)/tests/vm-test-kernels.fatbin $(CUDA_PLUGIN) \
                         $(CUDA_VM_WORKER) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(MEDIATOR_CFLAGS) \
	    -DVGPU_CUDA_PLUGIN_PATH='"$(abspath $(CUDA_PLUGIN))"' \
	    -DVGPU_VM_TEST_FATBIN='"$(abspath $(B)/tests/vm-test-kernels.fatbin)"' \
	    -o $@ $< $(COMMON_LIB) $(MEDIATOR_LIBS)

.PHONY: gpu-test gpu-test-build
# No QEMU and no guest image: a GPU host needs neither (docs/gpu.md).
gpu-test-build: all $(GPU_TESTS) $(CUDA_FLOOR) $(MEDIATOR_TEST_BINS) $(MEDIATOR_TEST_PLUGINS)
gpu-test: gpu-test-build
	@VGPU_TEST_BACKEND=cuda tests/run-tests $(GPU_TESTS) $(GPU_MEDIATOR_TESTS)
