# The whole path in booted VMs: tests/e2e/*.t, make demo and the guest part
# of make bench.  They boot the project's QEMU build with the guest image
# plus the static vgpu-client (scripts/guest-image.sh build --client) and
# drive the guests through scripts/guest-vms.sh.

CHECK_PREREQS += guest-image-client
DEMO_PREREQS  += guest-image-client
BENCH_PREREQS += qemu guest-image-client

.PHONY: guest-image-client

# After guest-image (same directory); packing the client layer takes a second.
guest-image-client: guest-image $(VGPU_CLIENT_STATIC)
	@scripts/guest-image.sh build --out $(B)/guest-image --client $(VGPU_CLIENT_STATIC)
