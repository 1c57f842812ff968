# vgpuctl: the admin CLI.  Its commands about VMs, stats and the daemon
# speak the control protocol (control/); top draws with ncurses; attach and
# detach edit libvirt domains with libvirt's API and the XML helpers of
# libvirt-hooks/.

# Objects in vgpuctl-objs/: build/vgpuctl is the program.
VGPUCTL_SRCS    := $(addprefix vgpuctl/, vgpuctl.c vgpuctl-vm.c vgpuctl-stats.c vgpuctl-top.c \
                     vgpuctl-admin.c vgpuctl-domain.c)
VGPUCTL_HEADERS := $(wildcard vgpuctl/*.h) $(CONTROL_HEADERS) $(LVH_HEADERS)
LIBVIRT_CFLAGS  := $(shell $(PKG_CONFIG) --cflags libvirt 2>/dev/null)
LIBVIRT_LIBS    := $(shell $(PKG_CONFIG) --libs libvirt 2>/dev/null)
NCURSES_CFLAGS  := $(shell $(PKG_CONFIG) --cflags ncursesw 2>/dev/null)
NCURSES_LIBS    := $(shell $(PKG_CONFIG) --libs ncursesw 2>/dev/null)
VGPUCTL_QEMU_EMULATOR := $(or $(QEMU_PREFIX),$(LIBEXECDIR)/vgpu/qemu)/bin/qemu-system-x86_64
VGPUCTL_CFLAGS  := $(CONTROL_CFLAGS) $(LIBXML_CFLAGS) $(LIBVIRT_CFLAGS) $(NCURSES_CFLAGS) -Ilibvirt-hooks \
                   -DVGPU_VERSION='"$(VGPU_VERSION)"' \
                   -DVGPU_QEMU_EMULATOR='"$(VGPUCTL_QEMU_EMULATOR)"'

ALL_TARGETS += $(B)/vgpuctl
INSTALL_TARGETS += install-vgpuctl

$(B)/vgpuctl-objs/%.o: vgpuctl/%.c $(VGPUCTL_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(VGPUCTL_CFLAGS) -c -o $@ $<

$(B)/vgpuctl: $(VGPUCTL_SRCS:vgpuctl/%.c=$(B)/vgpuctl-objs/%.o) $(LVH_LIB) $(CONTROL_LIB) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(CONTROL_LIBS) $(LIBVIRT_LIBS) $(LIBXML_LIBS) $(NCURSES_LIBS)

.PHONY: install-vgpuctl
install-vgpuctl: $(B)/vgpuctl
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(B)/vgpuctl $(DESTDIR)$(BINDIR)/vgpuctl
	$(INSTALL) -m 0644 vgpuctl/vgpuctl.8 vgpuctl/vgpuctl-attach.8 $(DESTDIR)$(MANDIR)/man8/
