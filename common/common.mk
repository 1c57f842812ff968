# The contract codec and identity helpers, linked into every part.
COMMON_SRCS := common/codec.c common/identity.c common/ops.c common/cuda-batch.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/%.o)
COMMON_LIB  := $(B)/libvgpu-common.a
COMMON_HEADERS := $(wildcard include/vgpu/*.h)

ALL_TARGETS += $(COMMON_LIB) $(B)/header-check.stamp

$(B)/common/%.o: common/%.c $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# Each contract header compiles alone as C11 with warnings as errors.
$(B)/header-check.stamp: $(COMMON_HEADERS)
	@mkdir -p $(@D)
	@for h in $(COMMON_HEADERS); do \
	    echo "#include \"$${h#include/}\"" | \
	    $(CC) -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -x c -fsyntax-only - || exit 1; \
	done
	@touch $@
