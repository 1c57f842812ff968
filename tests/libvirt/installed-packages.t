#!/bin/bash
# The libvirt path with the installed packages instead of the build tree:
# apt installs the previous version's vgpu deb, the daemon runs from /usr as
# user vgpu (as its unit runs it), a guest-image domain gets the device with
# the installed vgpuctl's defaults, libvirtd runs the packaged hook from
# /etc/libvirt/hooks/qemu.d and QEMU from the package's prefix as libvirt's
# own QEMU user, and the guest computes.  libvirt marks the domain
# tainted: custom-argv, as docs/libvirt.md says; docs/libvirt.md's
# `virsh metadata` command changes the identity for the next start.
# Then apt upgrades to the current deb under the running guest: the
# mediator keeps running and the VM registered and computing; the new
# daemon, restarted, registers it again from its state file.  Root then
# starts the daemon by hand with the installed config: a domain started
# now connects (the device socket is group vgpu) and shows the identity set
# with virsh metadata.  apt purge leaves none of the package's files,
# nor /run/vgpu, nor the hook's link, and leaves libvirt's hook directory.
#
# Costs: the debs of both versions are built once (tests/packaging/lib.sh);
# then about 1.5 minutes under TCG: two guest boots, two apt runs.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../packaging/lib.sh"

plan 36
lv_init
BOOT_LIMIT=180          # seconds for a guest to boot and compute, TCG on a busy host
VMID=$((100000 + $$ % 100000 * 10 + 5))
G1=vgpu-test-pkg-$$
HOOK_LINK=$LV_HOOK_DIR/vgpu
LV_EMULATOR=/usr/libexec/vgpu/qemu/bin/qemu-system-x86_64

# The installed daemons: /usr/sbin/vgpu-mediatord, or the file an upgrade
# or purge replaced under a running one.
ip_daemon_pids() {
    local pid
    for pid in $(pgrep -x vgpu-mediatord -u vgpu,root); do
        case $(readlink "/proc/$pid/exe") in
        /usr/sbin/vgpu-mediatord|"/usr/sbin/vgpu-mediatord (deleted)") echo "$pid" ;;
        esac
    done
}
ip_daemon_stop() {
    local pid
    for pid in $(ip_daemon_pids); do
        kill "$pid" 2>/dev/null
        vgpu_wait_until 15 eval "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
    done
}
ip_cleanup() {
    ip_daemon_stop
    lv_cleanup
    pkg_purge
}
# The installed daemon: as vgpu (what docs/install.md says to run without
# systemd) or as root.  Waits until the installed vgpuctl reaches it.
ip_daemon_start() {     # vgpu|root
    if [ "$1" = vgpu ]; then
        runuser -u vgpu -- /usr/sbin/vgpu-mediatord --foreground 2>>"$LV_TMP/mediator.log" &
    else
        /usr/sbin/vgpu-mediatord --foreground 2>>"$LV_TMP/mediator.log" &
    fi
    vgpu_wait_until 10 /usr/bin/vgpuctl ping
}
ip_daemon_pid() { ip_daemon_pids | head -n 1; }

PKG_LOG=$LV_TMP/build.log pkg_debs
ok $? "the current debs are built" || diag "$(tail -n 20 "$LV_TMP/build.log")"
PKG_LOG=$LV_TMP/build-prev.log pkg_previous_debs
ok $? "the previous version's debs are built ($PKG_PREV_VERSION)" ||
    diag "$(tail -n 20 "$LV_TMP/build-prev.log")"
pkg_refuse_installed
[ -z "$(ip_daemon_pids)" ] || bail "an installed vgpu-mediatord runs here: $(ip_daemon_pids)"
trap ip_cleanup EXIT

pkg_apt install "$PKG_PREV_DEBS"/host/vgpu_*.deb >"$LV_TMP/install.log" 2>&1
ok $? "apt installs vgpu $PKG_PREV_VERSION" || diag "$(tail -n 20 "$LV_TMP/install.log")"
lv_libvirt_start
ip_daemon_start vgpu
ok $? "the installed daemon runs as user vgpu with the installed config"

cat > "$LV_TMP/guest.sh" <<'GUEST'
#!/bin/sh
# Wait for the identity, show it, then compute until the host destroys us.
tries=0
while vgpu-client info | grep -q '^pool: *none'; do
    tries=$((tries + 1))
    [ $tries -ge 120 ] && break
    sleep 0.5
done
vgpu-client info | sed 's/^/info: /'
n=1
while :; do
    echo "add $n: $(vgpu-client add $n 1000 2>&1)"
    n=$((n + 1))
    sleep 0.3
done
GUEST
lv_guest_image "$LV_TMP/guest.sh"
lv_guest_domain "$G1" q35
out=$(/usr/bin/vgpuctl attach "$G1" --pool A --priority high --vm-id "$VMID" 2>&1)
like "$out" "emulator $LV_EMULATOR\)$" "the installed vgpuctl attaches with its defaults: /run/vgpu, the packaged QEMU" ||
    diag "$out"
out=$(lv_virsh start "$G1" 2>&1)
is "$?" 0 "virsh start runs the packaged hook and QEMU" || diag "$out"

results() { lv_console "$1" | grep -c '^add [0-9]*: [0-9][0-9]*$'; }
has_results() { [ "$(results "$1")" -ge "$2" ]; }
wrong() { lv_console "$1" | awk '/^add [0-9]+: [0-9]+$/ && $3 != $2 + 1000 { n++ } END { print n + 0 }'; }
qemu_pid() { cat "/run/libvirt/qemu/$1.pid" 2>/dev/null; }
uuid=$(lv_virsh domuuid "$G1")
field() { /usr/bin/vgpuctl --json list 2>/dev/null | python3 -c '
import json, sys
for vm in json.load(sys.stdin).get("vms", []):
    if vm["uuid"] == sys.argv[1]: print(vm[sys.argv[2]])' "$uuid" "$1"; }

# pool, priority and vm-id as the guest's vgpu-client info shows them
identity() { lv_console "$G1" | sed -n 's/^info: \(pool\|priority\|vm-id\): *//p' | tr '\n' ' '; }
vgpu_wait_until "$BOOT_LIMIT" has_results "$G1" 2
is "$(identity)" "A high $VMID " "the guest sees the identity from its XML" || diag "$(lv_console "$G1" | tail -n 20)"
like "$(lv_console "$G1")" "add 1: 1001" "and computes through the device"
pid=$(qemu_pid "$G1")
is "$(readlink "/proc/$pid/exe")" "$LV_EMULATOR" "QEMU runs from the package's prefix"
is "$(ps -o user= -p "$pid")" libvirt-qemu "as libvirt's QEMU user"
is "$(field pid)/$(field connected)" "$pid/1" "the packaged hook registered the domain with QEMU's pid"
like "$(cat "/var/log/libvirt/qemu/$G1.log" 2>&1)" "Domain id=[0-9]+ is tainted: custom-argv" \
    "libvirt marks the domain tainted: custom-argv"
like "$(cat "$LV_TOP/docs/libvirt.md")" 'is tainted: custom-argv`' "as docs/libvirt.md says"

# docs/libvirt.md's virsh metadata command, on the running domain.
pkg_doc_block "$LV_TOP/docs/libvirt.md" metadata-set | sed -e 's/^  //' -e "s/web1/$G1/" \
    -e "s/vm-id='7'/vm-id='$VMID'/" > "$LV_TMP/metadata.sh"
(set -e; virsh() { command virsh -q -c "$LV_URI" "$@"; }; . "$LV_TMP/metadata.sh") >"$LV_TMP/metadata.log" 2>&1
ok $? "docs/libvirt.md's virsh metadata command runs" || diag "$(cat "$LV_TMP/metadata.log")"
like "$(lv_virsh metadata "$G1" --uri urn:vgpu-stub:libvirt:1 --config)" 'priority="low"' \
    "and changes the persistent definition"
is "$(field priority)" high "the running domain keeps the identity it started with"

# Upgrade under the running guest and mediator.
daemon=$(ip_daemon_pid)
before=$(results "$G1")
pkg_apt install "$PKG_DEBS"/host/vgpu_*.deb >"$LV_TMP/upgrade.log" 2>&1
ok $? "apt upgrades vgpu to $PKG_VERSION under the running guest" || diag "$(tail -n 20 "$LV_TMP/upgrade.log")"
is "$(dpkg-query -W -f='${Version}' vgpu)" "$PKG_VERSION-1" "the new version is installed"
is "$(ip_daemon_pid)" "$daemon" "the running mediator was not restarted"
is "$(field pid)/$(field connected)" "$pid/1" "the VM is still registered, its device connected"
is "$(readlink "$HOOK_LINK")" /usr/libexec/vgpu/vgpu-libvirt-hook "the hook's link is there"
vgpu_wait_until 60 has_results "$G1" $((before + 5))
ok $? "the guest still computes (5 more results)"

# The new daemon: restarted, it registers the VM again from registry.jsonl.
before=$(results "$G1")
ip_daemon_stop
is "$(ip_daemon_pids)" "" "the old daemon stops"
ip_daemon_start vgpu
ok $? "the new daemon starts"
new=$(ip_daemon_pid)
is "$new:$(readlink "/proc/$new/exe")" "$new:/usr/sbin/vgpu-mediatord" "it runs the upgraded binary"
is "$(field pid)/$(field priority)" "$pid/high" "and has the VM registered again from its state file"
vgpu_wait_until 60 has_results "$G1" $((before + 5))
ok $? "the guest computes on it (its device reconnected)"
is "$(wrong "$G1")" 0 "every result so far is right"

# Root starts the daemon by hand with the installed config; a domain
# started now must reach the device socket, and has the identity
# virsh metadata set.
lv_virsh destroy "$G1" >/dev/null
ip_daemon_stop
ip_daemon_start root
ok $? "root starts the installed daemon with the installed config"
: > "$LV_TMP/$G1.console"
out=$(lv_virsh start "$G1" 2>&1)
is "$?" 0 "virsh start again" || diag "$out"
vgpu_wait_until "$BOOT_LIMIT" has_results "$G1" 2
is "$(identity)" "A low $VMID " "QEMU reaches the root-started daemon; the guest has the identity virsh metadata set" ||
    diag "$(lv_console "$G1" | tail -n 20)"
like "$(lv_console "$G1")" "add 1: 1001" "and computes"

lv_virsh destroy "$G1" >/dev/null
ip_daemon_stop
listed=$(dpkg -L vgpu | sort -u)
pkg_apt purge vgpu >"$LV_TMP/purge.log" 2>&1
ok $? "apt purge vgpu" || diag "$(tail -n 20 "$LV_TMP/purge.log")"
left=$(echo "$listed" | while read -r f; do
    if [ -f "$f" ] || { [ -L "$f" ] && [ ! -d "$f" ]; }; then echo "$f"; fi; done)
is "$left" "" "leaves none of its files"
is "$(ls -d /run/vgpu /etc/vgpu "$HOOK_LINK" 2>&1 | grep -v 'No such file')" "" \
    "nor /run/vgpu, /etc/vgpu or the hook's link"
[ -d "$LV_HOOK_DIR" ]
ok $? "and leaves libvirt's $LV_HOOK_DIR"
