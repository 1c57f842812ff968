# libFuzzer targets of the parsers that take hostile input, one folder each
# under tests/fuzz/ with its seed corpus (docs/testing.md, "Fuzzing").
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="wire config"]
#                      each target for FUZZ_SECONDS; what it finds goes to
#                      $(B)/fuzz/crashes/TARGET/, its grown corpus to
#                      $(B)/fuzz/corpus/TARGET/
#   make check         each for a few seconds (tests/fuzz/fuzz-targets.t)
#
# Built with clang (scripts/install-deps.sh installs it and libFuzzer's
# runtime) with ASan and UBSan, nothing recovering, into $(B)/fuzz/: the
# product sources are compiled again there with coverage instrumentation,
# apart from the objects of the normal build.

FUZZ_CC      ?= clang
FUZZ_B       := $(B)/fuzz
FUZZ_NAMES   := request response wire window-op cuda-batch control-proto config metadata
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_B)/fuzz-%)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(VGPU_CFLAGS) -g -O1 $(FUZZ_SAN) -MMD -MP -Itests/fuzz \
                $(MEDIATOR_CFLAGS) $(CONTROL_CFLAGS) $(LIBXML_CFLAGS) -Ilibvirt-hooks

# The product sources each target links, and the libraries they need.
FUZZ_SRCS_request       := common/codec.c
FUZZ_SRCS_response      := common/codec.c common/ops.c
FUZZ_SRCS_wire          := common/codec.c
FUZZ_SRCS_window-op     := common/codec.c common/ops.c
FUZZ_SRCS_cuda-batch    := common/cuda-batch.c
FUZZ_SRCS_control-proto := control/control-proto.c common/identity.c
FUZZ_SRCS_config        := mediator/config.c common/identity.c
FUZZ_SRCS_metadata      := libvirt-hooks/metadata.c libvirt-hooks/qemu-cmdline.c common/identity.c
FUZZ_LIBS_control-proto  = $(CONTROL_LIBS)
FUZZ_LIBS_config         = $(GLIB_LIBS)
FUZZ_LIBS_metadata       = $(GLIB_LIBS) $(LIBXML_LIBS)

FUZZ_OBJS := $(sort $(foreach t,$(FUZZ_NAMES),$(FUZZ_SRCS_$(t):%.c=$(FUZZ_B)/obj/%.o)))

# make mutate builds check-build with SANITIZED_CHECKS=no: its mutants'
# tests need neither the fuzzers nor build-asan/.
ifneq ($(SANITIZED_CHECKS),no)
CHECK_PREREQS += fuzz-build
endif
.PHONY: fuzz fuzz-build fuzz-bins

# Other flags or compiler than the targets were built with: built again
# (checked before make looks at the objects, in a make of its own).
fuzz-build:
	@mkdir -p $(FUZZ_B)
	@echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' | cmp -s - $(FUZZ_B)/cflags || \
	    { rm -rf $(FUZZ_B)/obj $(FUZZ_BINS); echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' > $(FUZZ_B)/cflags; }
	@$(MAKE) --no-print-directory fuzz-bins
fuzz-bins: $(FUZZ_BINS)

# After deps, in a new make, as check does: clang may just have been installed.
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run-fuzz --seconds $(FUZZ_SECONDS) --build $(FUZZ_B) $(FUZZ_TARGETS)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

define fuzz_target_rule
$(FUZZ_B)/fuzz-$(1): tests/fuzz/$(1)/fuzz-$(1).c $(FUZZ_SRCS_$(1):%.c=$(FUZZ_B)/obj/%.o)
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< \
	    $(FUZZ_SRCS_$(1):%.c=$(FUZZ_B)/obj/%.o) $$(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_NAMES),$(eval $(call fuzz_target_rule,$(t))))

-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)
