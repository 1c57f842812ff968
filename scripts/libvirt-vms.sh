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

. "$gv_top/scripts/lib.sh"
LVM_URI=$VGPU_LIBVIRT_URI
LVM_HOOK_DIR=/etc/libvirt/hooks/qemu.d
LVM_PACKAGE_HOOK=$LVM_HOOK_DIR/vgpu         # what the packages install (docs/install.md)
LVM_DEMO_HOOK=$LVM_HOOK_DIR/vgpu-demo       # the build's hook, while the demo runs
LVM_QEMU_USER=$VGPU_QEMU_USER
LVM_DOMAIN_PREFIX=vgpu-demo-
LVM_CAPS_CACHE=/var/cache/libvirt/qemu/capabilities     # FILE: sha256 of the emulator's path
LVM_DOMAIN_LOGS=/var/log/libvirt/qemu
LVM_STATE_DIR=/run/libvirt/qemu                         # NAME.pid: QEMU's pid
LVM_VIRSH_LIMIT=120     # seconds for one virsh command (a start may probe the emulator)
LVM_UNREGISTER_LIMIT=10 # seconds for the release hook to unregister a destroyed domain

lvm_reason=
lvm_emulator=
lvm_hook=
lvm_hook_link=
lvm_lock_fd=
lvm_domains=()
lvm_made_dirs=()        # innermost first

lvm_error() { echo "libvirt-vms: $*" >&2; }
lvm_virsh() { timeout --kill-after=5 "$LVM_VIRSH_LIMIT" virsh -q -c "$LVM_URI" "$@" </dev/null; }
lvm_show() { printf '      host# %s\n' "${@//"$gv_dir"/DIR}"; }
lvm_domain() { echo "$LVM_DOMAIN_PREFIX$1"; }

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
    vgpu_close_fd=$lvm_lock_fd      # the daemons it starts must not hold the lock
    flock -n "$lvm_lock_fd"
}

# lvm_libvirt_start: vgpu_libvirt_start, each command shown.
lvm_libvirt_start() {
    VGPU_SHOW=lvm_show vgpu_libvirt_start || { lvm_error "libvirt did not start"; return 1; }
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
        "$(vgpu_libvirtd_reload_command)      # libvirtd reads its hooks at start and on reload"
    lvm_hook_link=$LVM_DEMO_HOOK
    ln -sfn "$lvm_hook" "$lvm_hook_link" || return 1
    vgpu_libvirtd_reload || { lvm_error "libvirtd does not answer after reloading"; return 1; }
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
    vgpu_wait_until "$LVM_UNREGISTER_LIMIT" eval "! lvm_registered $2"
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
        if [ -z "$vgpu_started_libvirtd" ]; then
            [ -z "$show" ] || lvm_show "$(vgpu_libvirtd_reload_command)"
            vgpu_libvirtd_reload || lvm_error "libvirtd did not answer after reloading without the demo's hook"
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
    if [ -n "$show" ]; then VGPU_SHOW=lvm_show vgpu_libvirt_stop; else vgpu_libvirt_stop; fi
    [ ${#lvm_made_dirs[@]} = 0 ] || rmdir "${lvm_made_dirs[@]}" 2>/dev/null
    lvm_made_dirs=()
}
