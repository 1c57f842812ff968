# The scale, isolation and old-design benchmarks (bench/scale.sh, run by
# make bench; docs/benchmarks.md).  The load generator links libc and the
# codec only, so that it runs on GPU hosts without GLib.
LOADGEN_SRCS := bench/loadgen.c bench/scale.c bench/isolation.c bench/load-device.c \
                bench/latency-hist.c bench/proc-stat.c
LOADGEN_OBJS := $(LOADGEN_SRCS:bench/%.c=$(B)/bench/obj/%.o)
LOADGEN      := $(B)/bench/vgpu-loadgen
OLD_TRANSPORT := $(B)/bench/old-transport

BENCH_PREREQS += $(LOADGEN) $(OLD_TRANSPORT) $(B)/vgpuctl $(B)/vgpu-mediatord
CHECK_PREREQS += $(LOADGEN)

$(B)/bench/obj/%.o: bench/%.c $(wildcard bench/*.h) tests/mediator/wire-client.h $(COMMON_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -Itests/mediator -c -o $@ $<

$(LOADGEN): $(LOADGEN_OBJS) $(B)/tests/wire-client.o $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $^ -pthread -lm

$(OLD_TRANSPORT): bench/old-transport.c
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) -o $@ $< -pthread
