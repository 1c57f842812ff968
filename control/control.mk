# The control protocol (docs/control-protocol.md): its requests' one parser
# and one encoder (control-proto.c) and the client of the control socket
# (control-client.c), in libvgpu-control.a for the daemon, vgpuctl and the
# libvirt hook.

CONTROL_PKGS    := glib-2.0 gio-2.0 json-glib-1.0
CONTROL_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(CONTROL_PKGS) 2>/dev/null) -Icontrol
CONTROL_LIBS    := $(shell $(PKG_CONFIG) --libs $(CONTROL_PKGS) 2>/dev/null)
CONTROL_SRCS    := control/control-proto.c control/control-client.c control/runtime-dir.c
CONTROL_LIB     := $(B)/libvgpu-control.a
CONTROL_HEADERS := $(wildcard control/*.h) $(COMMON_HEADERS)

ALL_TARGETS += $(CONTROL_LIB)

$(B)/control/%.o: control/%.c $(CONTROL_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(CONTROL_CFLAGS) -c -o $@ $<

$(CONTROL_LIB): $(CONTROL_SRCS:%.c=$(B)/%.o)
	rm -f $@
	$(AR) rcs $@ $^
