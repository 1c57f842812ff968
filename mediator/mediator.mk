# vgpu-mediatord: the daemon alone (its backends' interface is
# include/vgpu/backend.h; the cuda plugin is backend-cuda/).

MEDIATOR_PKGS   := glib-2.0 gio-2.0 gio-unix-2.0 gmodule-2.0 json-glib-1.0 libsystemd openblas \
                   libsoup-3.0
MEDIATOR_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(MEDIATOR_PKGS) 2>/dev/null) \
                   -D_GNU_SOURCE -DG_LOG_USE_STRUCTURED -DVGPU_VERSION='"$(VGPU_VERSION)"' \
                   -DMEDIATOR_PLUGIN_DIR='"$(LIBDIR)/vgpu/backends"' \
                   -DMEDIATOR_CONFIG_PATH='"$(SYSCONFDIR)/vgpu/mediator.conf"' -Imediator -Icontrol
MEDIATOR_LIBS   := $(shell $(PKG_CONFIG) --libs $(MEDIATOR_PKGS) 2>/dev/null) -lm -pthread

# The daemon's modules (all but main.c), linked into the daemon and the unit tests.
MEDIATOR_SRCS := $(addprefix mediator/, stats.c registry.c queue.c config.c request.c \
                   backend-cpu.c cpu-window-ops.c window.c log-episode.c backends.c scheduler.c sockets.c device-links.c registry-file.c \
                   control.c commands.c report.c metrics.c metrics-http.c spin-poll.c mediator.c)
MEDIATOR_LIB  := $(B)/libvgpu-mediator.a
MEDIATOR_HEADERS := $(wildcard mediator/*.h) $(CONTROL_HEADERS) $(B)/mediator/paths.stamp

ALL_TARGETS += $(B)/vgpu-mediatord

# The paths and version compiled in: objects rebuild when PREFIX & co change
# (e.g. `make` then `make install PREFIX=/usr`).
MEDIATOR_PATHS := $(VGPU_VERSION) $(LIBDIR)/vgpu/backends $(SYSCONFDIR)/vgpu/mediator.conf
$(B)/mediator/paths.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(MEDIATOR_PATHS)' | cmp -s - $@ || echo '$(MEDIATOR_PATHS)' > $@
.PHONY: FORCE
FORCE:

$(B)/mediator/%.o: mediator/%.c $(MEDIATOR_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(VGPU_CFLAGS) $(CFLAGS) $(MEDIATOR_CFLAGS) -c -o $@ $<

$(MEDIATOR_LIB): $(MEDIATOR_SRCS:%.c=$(B)/%.o) mediator/mediator.mk
	rm -f $@
	$(AR) rcs $@ $(filter %.o,$^)

$(B)/vgpu-mediatord: $(B)/mediator/main.o $(MEDIATOR_LIB) $(CONTROL_LIB) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(MEDIATOR_LIBS)

# Installation: the daemon, the default config, systemd files, man pages,
# the Grafana dashboard.  The installed config names the compiled-in
# plugin-dir and sets socket-group=vgpu (the group sysusers creates).
INSTALL_TARGETS += install-mediator
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d

.PHONY: install-mediator
install-mediator: $(B)/vgpu-mediatord
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/vgpu \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(LIBDIR)/vgpu/backends \
	    $(DESTDIR)$(DATADIR)/vgpu/grafana
	$(INSTALL) -m 0755 $(B)/vgpu-mediatord $(DESTDIR)$(SBINDIR)/vgpu-mediatord
	sed -e 's|^#plugin-dir=.*|#plugin-dir=$(LIBDIR)/vgpu/backends|' \
	    -e 's|^#socket-group=vgpu$$|socket-group=vgpu|' mediator/mediator.conf \
	    > $(DESTDIR)$(SYSCONFDIR)/vgpu/mediator.conf
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/vgpu/mediator.conf
	sed 's|@SBINDIR@|$(SBINDIR)|g' mediator/vgpu-mediator.service.in \
	    > $(DESTDIR)$(UNITDIR)/vgpu-mediator.service
	$(INSTALL) -m 0644 mediator/vgpu-mediator.sysusers $(DESTDIR)$(SYSUSERSDIR)/vgpu-mediator.conf
	$(INSTALL) -m 0644 mediator/vgpu-mediator.tmpfiles $(DESTDIR)$(TMPFILESDIR)/vgpu-mediator.conf
	$(INSTALL) -m 0644 mediator/mediator.conf.5 $(DESTDIR)$(MANDIR)/man5/mediator.conf.5
	$(INSTALL) -m 0644 mediator/vgpu-mediatord.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 mediator/grafana/vgpu-dashboard.json $(DESTDIR)$(DATADIR)/vgpu/grafana/

include $(wildcard tests/mediator/mediator-tests.mk)
