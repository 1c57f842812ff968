# shellcheck shell=bash
# shellcheck disable=SC2016,SC2034,SC2154  # commands printed for the user; gv_* are guest-vms.sh's
# The VMs of scripts/guest-vms.sh started the way a user starts them: as
# libvirt domains that `vgpuctl attach` gives the device and that the hook
# registers at `virsh start`.  make demo uses it where libvirt is usable.
# Source it after scripts/guest-vms.sh (and gv_setup), then:
#
#   lvm_usable              0 when libvirt can be used here; else why not in lvm_reason
#   lvm_lock                take the host-wide demo lock (one such demo at a time)
#   lvm_libvirt_start       virtlogd and libvirtd, started where not running;
#                           /dev/kvm given the group and mode udev gives it
#   lvm_hook_install        the build's hook in libvirtd's qemu.d (unless the
#                           packages' hook is there), libvirtd reloaded
#   lvm_qemu_install        the QEMU build and guest kernel where libvirt-qemu can read them
#   lvm_define NAME UUID    define domain vgpu-demo-NAME (guest-domain.sh), its
#                           ttyS0 and ttyS1 those of gv_vm_prepare NAME
#   lvm_attach NAME POOL PRIORITY VM-ID   vgpuctl attach, on the demo's mediator
#   lvm_start NAME          virsh start; gv_vm_pid[NAME] gets QEMU's pid
#   lvm_destroy NAME UUID   virsh destroy, then wait until the hook unregistered it
#   lvm_undefine NAME
#   lvm_cleanup             undo all of the above (for an EXIT trap, before gv_cleanup)
#
# lvm_show prints each host command as a user would type it (make demo
# teaches the path), with DIR for the demo's directory.  Every wait is
# bounded.  lvm_cleanup leaves libvirt as lvm_libvirt_start found it:
# daemons it started are stopped, /dev/kvm's mode and owner are put back,
# the domains, the hook link and libvirt's cache and log files for the
# demo's emulator and domains are removed.

LVM_URI=qemu:///system
LVM_HOOK_DIR=/etc/libvirt/hooks/qemu.d
LVM_PACKAGE_HOOK=$LVM_HOOK_DIR/vgpu         # what the packages install (docs/install.md)
LVM_DEMO_HOOK=$LVM_HOOK_DIR/vgpu-demo       # the build's hook, while the demo runs
LVM_QEMU_USER=libvirt-qemu
LVM_DOMAIN_PREFIX=vgpu-demo-
LVM_CAPS_CACHE=/var/cache/libvirt/qemu/capabilities     # FILE: sha256 of the emulator's path
LVM_DOMAIN_LOGS=/var/log/libvirt/qemu
LVM_STATE_DIR=/run/libvirt/qemu                         # NAME.pid: QEMU's pid
LVM_ANSWER_LIMIT=60     # seconds for libvirtd to answer after a start or reload
LVM_VIRSH_LIMIT=120     # seconds for one virsh command (a start may probe the emulator)
LVM_STOP_LIMIT=20       # seconds for a daemon to exit after SIGTERM
LVM_RELOAD_SETTLE=1     # seconds for libvirtd to re-read its hooks after SIGHUP
LVM_UNREGISTER_LIMIT=10 # seconds for the release hook to unregister a destroyed domain

lvm_reason=
lvm_emulator=
lvm_hook=
lvm_hook_link=
lvm_kvm_mode=
lvm_started_libvirtd=   # "direct" (libvirtd -d) or "systemd"
lvm_started_virtlogd=
lvm_lock_fd=
lvm_domains=()
lvm_made_dirs=()        # innermost first

lvm_error() { echo "libvirt-vms: $*" >&2; }
lvm_virsh() { timeout --kill-after=5 "$LVM_VIRSH_LIMIT" virsh -q -c "$LVM_URI" "$@" </dev/null; }
lvm_show() { printf '      host# %s\n' "${@//"$gv_dir"/DIR}"; }
lvm_domain() { echo "$LVM_DOMAIN_PREFIX$1"; }
lvm_systemd() { [ -d /run/systemd/system ]; }
lvm_daemon_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
lvm_answers() { lvm_virsh uri >/dev/null 2>&1; }

# lvm_usable: root, the libvirt daemon packages (scripts/install-deps.sh),
# their QEMU user, and no AppArmor or SELinux confinement of it.
lvm_usable() {
    local tool
    if [ "$(id -u)" != 0 ]; then
        lvm_reason="not root"
        return 1
    fi
    for tool in virsh libvirtd virtlogd; do
        command -v "$tool" >/dev/null && continue
        lvm_reason="no $tool; make deps installs libvirt"
        return 1
    done
    if ! getent passwd "$LVM_QEMU_USER" >/dev/null; then
        lvm_reason="no user $LVM_QEMU_USER; make deps installs libvirt"
        return 1
    fi
    # Their profiles do not allow an emulator and a socket in a temporary
    # directory; a host gets the rules from docs/libvirt.md (Permissions).
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] &&
       [ -e /etc/apparmor.d/usr.sbin.libvirtd ]; then
        lvm_reason="AppArmor confines libvirt and its QEMU here"
        return 1
    fi
    if [ "$(cat /sys/fs/selinux/enforce 2>/dev/null)" = 1 ]; then
        lvm_reason="SELinux confines libvirt's QEMU here"
        return 1
    fi
}

# lvm_lock: one demo through libvirt at a time on this host, since they
# share the hook link and the domain names.  The lock is an flock on the
# hook directory itself (made if missing, removed again by lvm_cleanup),
# so that nothing is left behind.
lvm_lock() {
    local dir
    for dir in "${LVM_HOOK_DIR%/*}" "$LVM_HOOK_DIR"; do
        [ -d "$dir" ] && continue
        mkdir "$dir" || return 1
        lvm_made_dirs=("$dir" "${lvm_made_dirs[@]}")
    done
    exec {lvm_lock_fd}<"$LVM_HOOK_DIR"
    flock -n "$lvm_lock_fd"
}

# A Debian host's udev gives /dev/kvm to group kvm (libvirt-qemu is in it).
# Without udev it stays root-only, and libvirt 9.0 then probes the emulator
# again on every lookup, which makes each define or start take a minute.
lvm_kvm_permissions() {
    [ -c /dev/kvm ] || return 0
    setpriv --reuid="$LVM_QEMU_USER" --regid="$LVM_QEMU_USER" --init-groups \
        test -r /dev/kvm -a -w /dev/kvm 2>/dev/null && return 0
    lvm_kvm_mode=$(stat -c '%a %u:%g' /dev/kvm)
    lvm_show "chgrp kvm /dev/kvm; chmod 660 /dev/kvm      # what udev does; undone at the end"
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
}

lvm_stop_pidfile() {    # PIDFILE: SIGTERM the daemon it names and wait for it to go
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    gv_wait_until "$LVM_STOP_LIMIT" eval "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
}

lvm_libvirt_start() {
    lvm_kvm_permissions || { lvm_error "cannot set /dev/kvm's group and mode"; return 1; }
    if lvm_answers; then
        lvm_show "virsh -c $LVM_URI uri      # libvirtd is running"
        return 0
    fi
    if lvm_systemd; then
        lvm_show "systemctl start libvirtd      # stopped again at the end"
        systemctl start libvirtd || { lvm_error "systemctl start libvirtd failed"; return 1; }
        lvm_started_libvirtd=systemd
    else
        mkdir -p /var/log/libvirt
        if ! lvm_daemon_alive /run/virtlogd.pid; then
            lvm_show "virtlogd -d      # no systemd here: started by hand, stopped at the end"
            virtlogd -d {lvm_lock_fd}<&- || { lvm_error "virtlogd -d failed"; return 1; }
            lvm_started_virtlogd=1
        fi
        lvm_show "libvirtd -d"
        libvirtd -d {lvm_lock_fd}<&- || { lvm_error "libvirtd -d failed"; return 1; }
        lvm_started_libvirtd=direct
    fi
    gv_wait_until "$LVM_ANSWER_LIMIT" lvm_answers && return 0
    lvm_error "libvirtd does not answer on $LVM_URI after $LVM_ANSWER_LIMIT s"
    return 1
}

lvm_libvirtd_reload() {
    if lvm_systemd; then
        systemctl reload libvirtd || return 1
    else
        lvm_daemon_alive /run/libvirtd.pid || return 1
        kill -HUP "$(cat /run/libvirtd.pid)" || return 1
    fi
    # libvirtd gives no sign when it has read the hooks again.
    sleep "$LVM_RELOAD_SETTLE"
    gv_wait_until "$LVM_ANSWER_LIMIT" lvm_answers
}

lvm_reload_command() {
    if lvm_systemd; then echo "systemctl reload libvirtd"; else echo 'kill -HUP $(cat /run/libvirtd.pid)'; fi
}

# lvm_hook_install: the packages' hook where it is installed (two hooks
# would register each domain twice), else a link to the build's.
lvm_hook_install() {
    if [ -x "$LVM_PACKAGE_HOOK" ]; then
        lvm_hook=$LVM_PACKAGE_HOOK
        lvm_show "ls -l $LVM_PACKAGE_HOOK      # the packages' hook: $(readlink -f "$LVM_PACKAGE_HOOK")"
        return 0
    fi
    lvm_hook=$gv_top/build/vgpu-libvirt-hook
    [ -x "$lvm_hook" ] || { lvm_error "no $lvm_hook: run 'make'"; return 1; }
    lvm_show "ln -s $lvm_hook $LVM_DEMO_HOOK" \
        "$(lvm_reload_command)      # libvirtd reads its hooks at start and on reload"
    lvm_hook_link=$LVM_DEMO_HOOK
    ln -sfn "$lvm_hook" "$lvm_hook_link" || return 1
    lvm_libvirtd_reload || { lvm_error "libvirtd does not answer after reloading"; return 1; }
}

# lvm_qemu_install: build/qemu and the guest kernel lie in root's cache,
# which libvirt-qemu cannot enter; the QEMU build is relocatable (its
# firmware comes from Debian's packages), so copies in DIR/libvirt do.
lvm_qemu_install() {
    local dir=$gv_dir/libvirt
    mkdir -p "$dir/qemu/bin" &&
        cp -L "$GV_QEMU" "$dir/qemu/bin/qemu-system-x86_64" &&
        cp -L "$gv_kernel" "$gv_dir/initramfs.cpio.gz" "$dir/" &&
        chmod -R a+rX "$dir" && chmod a+rx "$gv_dir" || return 1
    lvm_emulator=$dir/qemu/bin/qemu-system-x86_64
}

lvm_domain_type() {
    case $gv_accel in
    *kvm*) echo kvm ;;
    *) echo qemu ;;
    esac
}

# lvm_define NAME UUID: the domain's ttyS0 is DIR/vm-NAME/serial.log and
# its ttyS1 the FIFOs of gv_vm_prepare, on which the guest's agent reads.
lvm_define() {
    local name=$1 uuid=$2 domain vm_dir=$gv_dir/vm-$1
    domain=$(lvm_domain "$name")
    if lvm_virsh dominfo "$domain" >/dev/null 2>&1; then
        lvm_error "a domain named $domain exists already (left by a demo that was killed?):" \
            "remove it with 'virsh destroy $domain; virsh undefine $domain'"
        return 1
    fi
    gv_vm_prepare "$name" && chmod a+rx "$vm_dir" || return 1
    "$gv_top/scripts/guest-domain.sh" --name "$domain" --uuid "$uuid" \
        --type "$(lvm_domain_type)" --memory "$GV_VM_MEMORY" \
        --kernel "$gv_dir/libvirt/$(basename "$gv_kernel")" \
        --initrd "$gv_dir/libvirt/initramfs.cpio.gz" \
        --console "$vm_dir/serial.log" --serial-pipe "$vm_dir/agent" \
        --emulator "$lvm_emulator" >"$vm_dir/domain.xml" || return 1
    lvm_domains+=("$name")
    lvm_show "virsh define $vm_dir/domain.xml"
    lvm_virsh define "$vm_dir/domain.xml" >/dev/null || return 1
    # QEMU's own output, where the guest-vms.sh functions look for it.
    ln -sfn "$LVM_DOMAIN_LOGS/$domain.log" "$vm_dir/qemu.log"
}

# lvm_attach NAME POOL PRIORITY VM-ID: the demo's mediator and QEMU are
# not the installed ones, hence --runtime-dir and --emulator.
lvm_attach() {
    local domain
    domain=$(lvm_domain "$1")
    lvm_show "vgpuctl attach $domain --pool $2 --priority $3 --vm-id $4 --runtime-dir $gv_run --emulator $lvm_emulator"
    "$GV_VGPUCTL" attach "$domain" --pool "$2" --priority "$3" --vm-id "$4" \
        --runtime-dir "$gv_run" --emulator "$lvm_emulator" </dev/null >/dev/null
}

# lvm_start NAME: virsh start returns once QEMU runs (and the hook's
# prepare and started have registered the domain with QEMU's pid).
lvm_start() {
    local domain pid
    domain=$(lvm_domain "$1")
    lvm_show "virsh start $domain"
    lvm_virsh start "$domain" >/dev/null || return 1
    pid=$(cat "$LVM_STATE_DIR/$domain.pid" 2>/dev/null) || { lvm_error "no pid file for $domain"; return 1; }
    gv_vm_pid[$1]=$pid
}

lvm_registered() { [ -n "$(gv_vm_field "$1" NAME)" ]; }

# lvm_destroy NAME UUID: virsh destroy; the hook's release unregisters it.
lvm_destroy() {
    lvm_show "virsh destroy $(lvm_domain "$1")"
    lvm_virsh destroy "$(lvm_domain "$1")" >/dev/null || return 1
    gv_vm_forget "$1"
    gv_wait_until "$LVM_UNREGISTER_LIMIT" eval "! lvm_registered $2"
}

lvm_undefine() {
    lvm_show "virsh undefine $(lvm_domain "$1")"
    lvm_virsh undefine "$(lvm_domain "$1")" >/dev/null || return 1
    lvm_forget_domain "$1"
}

# The domain's libvirt log goes into its VM directory (kept when the demo
# fails), and the domain off the list that lvm_cleanup goes through.
lvm_forget_domain() {
    local name=$1 domain i log
    domain=$(lvm_domain "$name")
    log=$LVM_DOMAIN_LOGS/$domain.log
    if [ -f "$log" ]; then
        rm -f "$gv_dir/vm-$name/qemu.log"
        mv "$log" "$gv_dir/vm-$name/qemu.log"
    fi
    for i in "${!lvm_domains[@]}"; do
        if [ "${lvm_domains[$i]}" = "$name" ]; then unset "lvm_domains[$i]"; fi
    done
}

# lvm_cleanup [show]: with "show", print each undoing command as it goes.
lvm_cleanup() {
    local show=${1:-} name cache destroying=()
    # In parallel: libvirt takes 1-2 s to destroy each.
    for name in "${lvm_domains[@]}"; do
        lvm_virsh destroy "$(lvm_domain "$name")" >/dev/null 2>&1 &
        destroying+=($!)
    done
    [ ${#destroying[@]} = 0 ] || wait "${destroying[@]}"
    for name in "${lvm_domains[@]}"; do
        lvm_virsh undefine "$(lvm_domain "$name")" >/dev/null 2>&1
        unset "gv_vm_pid[$name]"
        lvm_forget_domain "$name"
    done
    if [ -n "$lvm_hook_link" ]; then
        [ -z "$show" ] || lvm_show "rm $lvm_hook_link"
        rm -f "$lvm_hook_link"
        if [ -z "$lvm_started_libvirtd" ]; then
            [ -z "$show" ] || lvm_show "$(lvm_reload_command)"
            lvm_libvirtd_reload || lvm_error "libvirtd did not answer after reloading without the demo's hook"
        fi
        lvm_hook_link=
    fi
    # libvirt keeps what it probed of each emulator, named by its path's sha256.
    if [ -n "$lvm_emulator" ]; then
        cache=$LVM_CAPS_CACHE/$(printf '%s' "$lvm_emulator" | sha256sum | cut -d' ' -f1).xml
        [ -z "$show" ] || lvm_show "rm $cache      # what libvirt probed of the demo's emulator"
        rm -f "$cache"
        lvm_emulator=
    fi
    case $lvm_started_libvirtd in
    systemd) [ -z "$show" ] || lvm_show "systemctl stop libvirtd"
             systemctl stop libvirtd ;;
    direct) [ -z "$show" ] || lvm_show 'kill $(cat /run/libvirtd.pid)'
            lvm_stop_pidfile /run/libvirtd.pid ;;
    esac
    lvm_started_libvirtd=
    if [ -n "$lvm_started_virtlogd" ]; then
        [ -z "$show" ] || lvm_show 'kill $(cat /run/virtlogd.pid)'
        lvm_stop_pidfile /run/virtlogd.pid
        lvm_started_virtlogd=
    fi
    if [ -n "$lvm_kvm_mode" ]; then
        [ -z "$show" ] || lvm_show "chown ${lvm_kvm_mode#* } /dev/kvm; chmod ${lvm_kvm_mode%% *} /dev/kvm"
        chown "${lvm_kvm_mode#* }" /dev/kvm && chmod "${lvm_kvm_mode%% *}" /dev/kvm
        lvm_kvm_mode=
    fi
    [ ${#lvm_made_dirs[@]} = 0 ] || rmdir "${lvm_made_dirs[@]}" 2>/dev/null
    lvm_made_dirs=()
}
