# shellcheck shell=bash
# The shell helpers the tests, the demo and the benchmarks share: bounded
# waits, numbers from the contract headers, the mediator, and libvirt's
# daemons on a host with or without systemd.  Source it from bash; every
# name starts with vgpu_.  Not a program.
#
#   vgpu_wait_until SECONDS CMD...      run CMD every 20 ms until it succeeds; 1 on timeout
#   vgpu_wait_pid SECONDS PID           wait for a child of this shell: its status, 124 on timeout
#   vgpu_contract_value NAME            a number #defined in include/vgpu/
#   vgpu_daemon_alive PIDFILE           the process the pid file names runs
#   vgpu_stop_pidfile PIDFILE [SECONDS] SIGTERM it, SIGKILL if still there after SECONDS
#   vgpu_mediator_config FILE RUNDIR POOLS [LINE...]   write a mediator.conf
#   vgpu_mediator_start RUNDIR CONF LOG [WRAPPER...]   start vgpu-mediatord, wait until it answers;
#                                       vgpu_mediator_pid
#   vgpu_mediator_stop [SIGNAL]         signal it (TERM) and wait: vgpu_mediator_status (124: runs)
#   vgpu_libvirt_start                  libvirtd (and virtlogd) unless running, /dev/kvm as udev
#                                       sets it; what it changed is put back by vgpu_libvirt_stop
#   vgpu_libvirtd_reload                make libvirtd read its hooks again
#   vgpu_libvirt_stop                   undo vgpu_libvirt_start
#
# VGPU_SHOW, when set, names a function that is given each host command the
# libvirt helpers run, for the demo to show.  vgpu_close_fd, when set, is a
# descriptor of the caller's (a lock) that the daemons started must not keep.

vgpu_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VGPU_BUILD=${VGPU_BUILD:-$vgpu_top/build}
VGPU_LIBVIRT_URI=qemu:///system
VGPU_QEMU_USER=libvirt-qemu
VGPU_LIBVIRT_ANSWER_LIMIT=60    # seconds for libvirtd to answer after a start or reload
VGPU_LIBVIRT_RELOAD_SETTLE=1    # seconds for libvirtd to re-read its hooks after SIGHUP
VGPU_STOP_LIMIT=20              # seconds for a daemon to exit after SIGTERM

vgpu_mediator_pid=
vgpu_mediator_status=
vgpu_close_fd=
vgpu_started_libvirtd=          # "direct" (libvirtd -d) or "systemd"
vgpu_started_virtlogd=
vgpu_kvm_mode=                  # /dev/kvm's mode and owner before, to put back

vgpu_wait_until() {
    local limit=$1; shift
    local end=$(( $(date +%s%N) + limit * 1000000000 ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || return 1
        sleep 0.02
    done
}

vgpu_wait_pid() {
    local limit=$1 pid=$2
    vgpu_wait_until "$limit" eval "! kill -0 $pid" || return 124
    wait "$pid"
}

vgpu_contract_value() {
    sed -nE "s/^#define $1 +(0x[0-9a-fA-F]+|[0-9]+)u?( .*)?$/\1/p" "$vgpu_top"/include/vgpu/*.h
}

vgpu_daemon_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

vgpu_stop_pidfile() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    vgpu_wait_until "${2:-$VGPU_STOP_LIMIT}" eval "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
}

vgpu_show() { [ -z "${VGPU_SHOW:-}" ] || "$VGPU_SHOW" "$@"; }

# A daemon that forks away: without the caller's vgpu_close_fd.
vgpu_spawn_daemon() {
    if [ -n "${vgpu_close_fd:-}" ]; then "$@" {vgpu_close_fd}<&-; else "$@"; fi
}

# --- the mediator ---------------------------------------------------------

vgpu_mediator_config() {
    local file=$1 rundir=$2 pools=$3; shift 3
    {
        echo "[mediator]"
        echo "runtime-dir=$rundir"
        echo "log-level=${VGPU_MEDIATOR_LOG_LEVEL:-debug}"
        printf '%s\n' "$@"
        printf '%s\n' "$pools"
    } >"$file"
}

vgpu_mediator_start() {
    local rundir=$1 conf=$2 log=$3; shift 3
    "$@" "$VGPU_BUILD/vgpu-mediatord" --config "$conf" --foreground 2>>"$log" &
    vgpu_mediator_pid=$!
    vgpu_wait_until "${VGPU_MEDIATOR_START_LIMIT:-10}" \
        "$VGPU_BUILD/vgpuctl" --runtime-dir "$rundir" --timeout 2000 ping && return 0
    echo "vgpu-mediatord did not start; the end of $log:" >&2
    tail -n 5 "$log" >&2
    return 1
}

vgpu_mediator_stop() {
    [ -n "$vgpu_mediator_pid" ] || return 0
    kill -s "${1:-TERM}" "$vgpu_mediator_pid" 2>/dev/null
    vgpu_wait_pid "${VGPU_MEDIATOR_STOP_LIMIT:-15}" "$vgpu_mediator_pid"
    vgpu_mediator_status=$?
    [ "$vgpu_mediator_status" = 124 ] || vgpu_mediator_pid=
}

# --- libvirt --------------------------------------------------------------

vgpu_systemd() { [ -d /run/systemd/system ]; }
vgpu_libvirt_answers() { virsh -q -c "$VGPU_LIBVIRT_URI" uri >/dev/null 2>&1; }

# A Debian host's udev gives /dev/kvm to group kvm (libvirt-qemu is in it).
# Without udev it stays root-only, and libvirt 9.0 then probes the emulator
# again on every lookup ("KVM was enabled when probing ..., but it is not
# available now"), which makes each define or start take a minute.
vgpu_kvm_permissions() {
    [ -c /dev/kvm ] || return 0
    setpriv --reuid="$VGPU_QEMU_USER" --regid="$VGPU_QEMU_USER" --init-groups \
        test -r /dev/kvm -a -w /dev/kvm 2>/dev/null && return 0
    vgpu_kvm_mode=$(stat -c '%a %u:%g' /dev/kvm)
    vgpu_show "chgrp kvm /dev/kvm; chmod 660 /dev/kvm      # what udev does; undone at the end"
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
}

vgpu_libvirt_start() {
    vgpu_kvm_permissions || { echo "cannot set /dev/kvm's group and mode" >&2; return 1; }
    if vgpu_libvirt_answers; then
        vgpu_show "virsh -c $VGPU_LIBVIRT_URI uri      # libvirtd is running"
        return 0
    fi
    if vgpu_systemd; then
        vgpu_show "systemctl start libvirtd      # stopped again at the end"
        systemctl start libvirtd || { echo "systemctl start libvirtd failed" >&2; return 1; }
        vgpu_started_libvirtd=systemd
    else
        mkdir -p /var/log/libvirt
        if ! vgpu_daemon_alive /run/virtlogd.pid; then
            vgpu_show "virtlogd -d      # no systemd here: started by hand, stopped at the end"
            vgpu_spawn_daemon virtlogd -d || { echo "virtlogd -d failed" >&2; return 1; }
            vgpu_started_virtlogd=1
        fi
        vgpu_show "libvirtd -d"
        vgpu_spawn_daemon libvirtd -d || { echo "libvirtd -d failed" >&2; return 1; }
        vgpu_started_libvirtd=direct
    fi
    vgpu_wait_until "$VGPU_LIBVIRT_ANSWER_LIMIT" vgpu_libvirt_answers && return 0
    echo "libvirtd does not answer on $VGPU_LIBVIRT_URI after $VGPU_LIBVIRT_ANSWER_LIMIT s" >&2
    return 1
}

vgpu_libvirtd_reload_command() {
    if vgpu_systemd; then echo "systemctl reload libvirtd"; else echo 'kill -HUP $(cat /run/libvirtd.pid)'; fi
}

vgpu_libvirtd_reload() {
    if vgpu_systemd; then
        systemctl reload libvirtd || return 1
    else
        vgpu_daemon_alive /run/libvirtd.pid || return 1
        kill -HUP "$(cat /run/libvirtd.pid)" || return 1
    fi
    # libvirtd gives no sign when it has read the hooks again.
    sleep "$VGPU_LIBVIRT_RELOAD_SETTLE"
    vgpu_wait_until "$VGPU_LIBVIRT_ANSWER_LIMIT" vgpu_libvirt_answers
}

vgpu_libvirt_stop() {
    case $vgpu_started_libvirtd in
    systemd) vgpu_show "systemctl stop libvirtd"
             systemctl stop libvirtd ;;
    direct) vgpu_show 'kill $(cat /run/libvirtd.pid)'
            vgpu_stop_pidfile /run/libvirtd.pid ;;
    esac
    vgpu_started_libvirtd=
    if [ -n "$vgpu_started_virtlogd" ]; then
        vgpu_show 'kill $(cat /run/virtlogd.pid)'
        vgpu_stop_pidfile /run/virtlogd.pid
        vgpu_started_virtlogd=
    fi
    if [ -n "$vgpu_kvm_mode" ]; then
        vgpu_show "chown ${vgpu_kvm_mode#* } /dev/kvm; chmod ${vgpu_kvm_mode%% *} /dev/kvm"
        chown "${vgpu_kvm_mode#* }" /dev/kvm && chmod "${vgpu_kvm_mode%% *}" /dev/kvm
        vgpu_kvm_mode=
    fi
}
