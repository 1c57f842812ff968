# vgpu-stub: top-level build.  `make help` lists the targets.
#
# Non-recursive: each part adds its rules from its own .mk file.  Outputs go
# under build/.  Packagers: make && make install DESTDIR=... PREFIX=/usr

# The release: packages (packaging/, vgpu.spec) and --version say it too.
VGPU_VERSION := 0.1.1

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
LIBDIR      ?= $(PREFIX)/lib
LIBEXECDIR  ?= $(PREFIX)/libexec
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= /lib/systemd/system
DESTDIR     ?=

CC          ?= cc
PKG_CONFIG  ?= pkg-config
INSTALL     ?= install
CFLAGS      ?= -O2 -g
VGPU_CFLAGS := -std=gnu11 -Wall -Wextra -fPIC -Iinclude
B           := build

# What each part adds to (the parts' .mk files append to these).
ALL_TARGETS :=          # built by `make`
UNIT_TESTS  :=          # C test programs (GLib gtest, run with --tap)
CHECK_PREREQS :=        # built before the tests run (e.g. the QEMU build)
INSTALL_TARGETS :=      # phony install-* targets
DEMO_PREREQS :=         # built before the demo runs
BENCH_PREREQS :=        # built before the benchmarks run
CHECK_LEFT_OUT :=       # what this host cannot build, said above the test count
CHECK_SCRIPTS_LEFT_OUT := # test scripts of what is left out

.PHONY: all check demo bench install deps clean help check-build demo-build bench-build mutate
all:

include common/common.mk
include tests/tests.mk
include qemu-device/qemu-device.mk control/control.mk mediator/mediator.mk \
        backend-cuda/backend-cuda.mk guest-tools/guest-tools.mk libvirt-hooks/libvirt-hooks.mk \
        vgpuctl/vgpuctl.mk packaging/packaging.mk tests/e2e/e2e.mk
include tests/fuzz/fuzz.mk tests/asan/asan.mk
include bench/bench.mk

all: $(ALL_TARGETS)

# Installs the Debian packages that building and testing need (as root).
deps:
	@scripts/install-deps.sh

# The shell tests; tests/gpu/ needs a GPU and runs with `make gpu-test`.
CHECK_SCRIPTS = $(sort $(filter-out tests/gpu/% $(CHECK_SCRIPTS_LEFT_OUT),$(wildcard tests/*/*.t)))

# TESTS= selects test files (default: all).
check: deps
	@$(MAKE) --no-print-directory check-build
	@VGPU_LEFT_OUT='$(strip $(CHECK_LEFT_OUT))' tests/run-tests $(or $(TESTS),$(UNIT_TESTS) $(CHECK_SCRIPTS))

demo: deps
	@$(MAKE) --no-print-directory demo-build
	@scripts/demo.sh

# The suite's strength: each mutant of tests/mutate/mutants.json must be
# caught (docs/testing.md).  Not part of check: it rebuilds once per mutant.
mutate: deps
	@tests/mutate/run-mutants $(MUTANTS)

bench: deps
	@$(MAKE) --no-print-directory bench-build
	@status=0; scripts/bench.sh || status=1; \
	 $(if $(NVCC),bench/window-bench.sh || status=1; bench/cuda-remoting.sh || status=1;) \
	 exit $$status

# What each of the three needs built (run after deps, in a new make, so
# that the packages deps installed are seen by pkg-config).
check-build: all $(CHECK_PREREQS) $(UNIT_TESTS)
demo-build: all $(DEMO_PREREQS)
bench-build: all $(BENCH_PREREQS)

install: all $(INSTALL_TARGETS)

clean:
	rm -rf $(B)

help:
	@echo 'make            build everything (outputs under build/)'
	@echo 'make check      install missing Debian packages, build, run all tests'
	@echo '                (TESTS="tests/x/y.t ..." runs only those)'
	@echo 'make demo       run the demo: VMs sharing the mediator, see README.md'
	@echo 'make bench      run the benchmarks, see docs/benchmarks.md'
	@echo 'make fuzz       run each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS (60)'
	@echo '                (FUZZ_TARGETS="wire config" runs only those)'
	@echo 'make mutate     plant each known bug (tests/mutate/) and check the tests catch it'
	@echo '                (MUTANTS="name ..." runs only those)'
	@echo 'make install    install under DESTDIR/PREFIX (default /usr/local)'
	@echo 'make deb        Debian packages in build/packages/deb/{host,guest,debug}/ (docs/install.md)'
	@echo 'make rpm        RPM packages in build/packages/rpm/{host,guest,source}/, QEMU from its tarball'
	@echo 'make qemu       the QEMU build with the vgpu-stub device (cached), build/qemu/'
	@echo 'make gpu-test   the GPU checks, on a host with an NVIDIA GPU (docs/gpu.md)'
	@echo 'make deps       install the Debian packages the build needs (root)'
	@echo 'make clean      remove build/'
