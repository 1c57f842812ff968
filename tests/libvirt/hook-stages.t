#!/bin/bash
# The hook at each libvirt stage, run as libvirtd runs it (argv + domain XML
# on stdin) against a real vgpu-mediatord: what it registers, the one-line
# messages it prints, and its exit status; and --dry-run, which says what an
# operation would do and whether it would succeed, changing nothing.  No
# libvirtd needed.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 55
lv_init
HOOK=$LV_BUILD/vgpu-libvirt-hook
UUID1=6f1c2b3a-4d5e-4f60-8172-93a4b5c6d7e8
UUID2=11111111-2222-4333-8444-555555555555

# domain_xml NAME UUID 'ATTRS': a domain whose device talks to the test's mediator.
domain_xml() {
    cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <uuid>$2</uuid>
  <metadata>
    <vgpu:device xmlns:vgpu='urn:vgpu-stub:libvirt:1' $3/>
  </metadata>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <qemu:commandline>
    <qemu:arg value='-chardev'/>
    <qemu:arg value='socket,id=vgpu0,path=$LV_RUN/mediator.sock,reconnect=1'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='vgpu-stub,chardev=vgpu0,bus=pci.0,addr=0x1c'/>
  </qemu:commandline>
</domain>
EOF
}

# status_xml PID XML: what a <domstatus> around the domain looks like.
status_xml() { echo "<domstatus state='running' reason='booted' pid='$1'>"; cat; echo "</domstatus>"; }

# run_hook NAME OP < XML: sets $rc and $err (stderr).
run_hook() {
    err=$("$HOOK" "$1" "$2" begin - 2>&1 >"$LV_TMP/hook.out")
    rc=$?
}

plain_domain="<domain type='qemu'><name>plain</name><uuid>$UUID2</uuid></domain>"
web1=$(domain_xml web1 "$UUID1" "pool='A' priority='high' vm-id='7'")

# Before the mediator runs: domains that are not ours never need it.
run_hook plain prepare <<<"$plain_domain"
is "$rc/$err" "0/" "a domain without vgpu metadata: exit 0, nothing printed, no mediator needed"
run_hook web1 migrate <<<"$web1"
is "$rc/$err" "0/" "an operation the hook does not act on: exit 0"

run_hook web1 prepare <<<"$web1"
is "$rc" 1 "prepare with the mediator down fails the start"
is "$err" "vgpu: domain 'web1': vgpu-mediatord is not running (no socket at $LV_RUN/control.sock)" \
    "and says so in one line naming the domain and the socket"
run_hook web1 release <<<"$web1"
is "$rc" 0 "release with the mediator down exits 0 (the domain is gone anyway)"
run_hook web1 reconnect <<<"$web1"
is "$rc" 0 "reconnect with the mediator down exits 0 (a failure would kill the running guest)"
like "$err" "^vgpu: domain 'web1': vgpu-mediatord is not running" "and still reports the problem"

lv_mediator_start "A B"

run_hook web1 prepare <<<"$web1"
is "$rc/$err" "0/" "prepare registers quietly"
is "$(lv_list_field "$UUID1" name)" web1 "the registry has the domain's name"
is "$(lv_list_field "$UUID1" pool)/$(lv_list_field "$UUID1" priority)/$(lv_list_field "$UUID1" vm_id)" \
    "A/high/7" "with pool, priority and vm-id from the XML"
is "$(lv_list_field "$UUID1" pid)" 0 "and no pid before started"

run_hook web1 started < <(status_xml 4242 <<<"$web1")
is "$rc/$err" "0/" "started with a status XML on stdin"
is "$(lv_list_field "$UUID1" pid)" 4242 "sets the pid from <domstatus pid=...>"

run_hook web1 started <<<"$web1"
is "$rc" 1 "started without a status XML and without libvirtd's pid file fails"
like "$err" "^vgpu: domain 'web1': cannot find QEMU's pid: .*/run/libvirt/qemu/web1.pid" \
    "naming the pid file it looked for"

run_hook web1 prepare <<<"$web1"
is "$rc" 0 "prepare again (a stale registration) succeeds"
is "$(lv_list_field "$UUID1" pid)" 0 "and drops the old QEMU's pid"
is "$(lv_vgpuctl --json list | grep -c '"uuid"')" 1 "and leaves one registration"

web2=$(domain_xml web2 "$UUID2" "pool='B' priority='low' vm-id='7'")
run_hook web2 prepare <<<"$web2"
is "$rc" 1 "a second domain with the same vm-id cannot start"
is "$err" "vgpu: domain 'web2': vm-id 7 is already used by domain 'web1' (uuid $UUID1)" \
    "and the message names both domains"
is "$(lv_list_field "$UUID2" name)" "" "the refused domain is not registered"

web2=$(domain_xml web2 "$UUID2" "pool='Z' priority='low' vm-id='8'")
run_hook web2 prepare <<<"$web2"
is "$rc" 1 "a pool the mediator does not configure cannot start"
like "$err" "^vgpu: domain 'web2': pool Z is not configured in $LV_TMP/mediator.conf \(pools: A, B\)$" \
    "and the message names the pool, the config file and the pools there are"

web2=$(domain_xml web2 "$UUID2" "pool='B' priority='urgent' vm-id='8'")
run_hook web2 prepare <<<"$web2"
is "$rc" 1 "a bad priority cannot start"
is "$err" "vgpu: domain 'web2': priority 'urgent' in <vgpu:device> is not low, medium or high" \
    "and the message names the value and what is allowed"

web2=$(domain_xml web2 "$UUID2" "pool='B' priority='low'")
run_hook web2 prepare <<<"$web2"
is "$rc/$err" "1/vgpu: domain 'web2': <vgpu:device> has no vm-id= attribute (a number in 1..2147483647)" \
    "a missing vm-id cannot start, with its message"

run_hook web2 prepare <<<"<domain><name>web2</name><metadata><vgpu:device xmlns:vgpu='urn:vgpu-stub:libvirt:1'"
is "$rc" 1 "malformed XML with our namespace fails prepare"
like "$err" "^vgpu: domain 'web2': the domain XML is not well-formed: line [0-9]+: " \
    "with the parser's message in one line"

# `vgpuctl register` left the UUID with another identity: the XML wins at prepare.
lv_vgpuctl register "$UUID2" --name old --pool A --priority high --vm-id 99 >/dev/null
web2=$(domain_xml web2 "$UUID2" "pool='B' priority='medium' vm-id='8'")
run_hook web2 prepare <<<"$web2"
is "$rc/$err" "0/" "prepare replaces a registration of the UUID with another identity"
is "$(lv_list_field "$UUID2" pool)/$(lv_list_field "$UUID2" priority)/$(lv_list_field "$UUID2" vm_id)/$(lv_list_field "$UUID2" name)" \
    "B/medium/8/web2" "with the identity from the XML"

# The GPU memory quota: validated, registered, and a new one replaces the old registration.
web2=$(domain_xml web2 "$UUID2" "pool='B' priority='medium' vm-id='8' gpu-memory='0'")
run_hook web2 prepare <<<"$web2"
is "$rc/$err" "1/vgpu: domain 'web2': gpu-memory '0' in <vgpu:device> is not a size of 1 byte..1TiB: a byte count, or a number with KiB, MiB, GiB or TiB" \
    "a GPU memory quota of 0 cannot start, with its message"
web2=$(domain_xml web2 "$UUID2" "pool='B' priority='medium' vm-id='8' gpu-memory='2TiB'")
run_hook web2 prepare <<<"$web2"
like "$rc/$err" "^1/vgpu: domain 'web2': gpu-memory '2TiB' in <vgpu:device> is not a size of 1 byte..1TiB" \
    "nor one over 1 TiB"
web2=$(domain_xml web2 "$UUID2" "pool='B' priority='medium' vm-id='8' gpu-memory='8GiB'")
run_hook web2 prepare <<<"$web2"
is "$rc/$err" "0/" "prepare with gpu-memory='8GiB' replaces the registration without a quota"
is "$(lv_list_field "$UUID2" gpu_memory_quota)" 8589934592 "the quota is registered, in bytes"
web2=$(domain_xml web2 "$UUID2" "pool='B' priority='medium' vm-id='8'")
run_hook web2 prepare <<<"$web2"
is "$rc/$(lv_list_field "$UUID2" gpu_memory_quota)" "0/0" "and dropping the attribute drops the quota"

run_hook web1 release <<<"$web1"
is "$rc/$err" "0/" "release unregisters quietly"
is "$(lv_list_field "$UUID1" name)" "" "the domain is gone from the registry"
run_hook web1 release <<<"$web1"
is "$rc/$err" "0/" "release of a domain the mediator does not know is quiet"

run_hook web1 reconnect < <(status_xml 5151 <<<"$web1")
is "$rc/$err" "0/" "reconnect (libvirtd restarted) registers again"
is "$(lv_list_field "$UUID1" vm_id)/$(lv_list_field "$UUID1" pid)" "7/5151" "with the identity and the pid"

"$HOOK" --help >/dev/null
is "$?" 0 "--help exits 0"
"$HOOK" >/dev/null 2>&1
is "$?" 2 "no arguments is a usage error"

# The hook finds the mediator through the domain's own chardev path.
other=$(domain_xml web3 "$UUID2" "pool='A' priority='low' vm-id='9'" | sed "s|$LV_RUN/mediator.sock|$LV_TMP/nowhere/mediator.sock|")
run_hook web3 prepare <<<"$other"
is "$rc" 1 "a domain whose chardev names another runtime dir"
is "$err" "vgpu: domain 'web3': vgpu-mediatord is not running (no socket at $LV_TMP/nowhere/control.sock)" \
    "is registered with the mediator there, not the default one"

# --dry-run: what docs/libvirt.md tells an admin to run by hand.
UUID3=22222222-3333-4444-8555-666666666666
count() { lv_vgpuctl --json list | grep -o '"uuid"' | wc -l; }
registered=$(count)
web3=$(domain_xml web3 "$UUID3" "pool='A' priority='low' vm-id='9'")
out=$("$HOOK" --dry-run web3 prepare begin - <<<"$web3" 2>&1); rc=$?
is "$rc" 0 "--dry-run prepare of a domain that would start: exit 0"
like "$out" "^vgpu: domain 'web3' \(uuid $UUID3\): pool A, priority low, vm-id 9; mediator $LV_RUN/control.sock
vgpu: prepare would register it" "says which identity it would register at which mediator"
like "$out" "vgpu: pool A is configured there and vm-id 9 is free
vgpu: nothing was changed \(--dry-run\)$" "checks pool and vm-id with the mediator"
is "$(lv_list_field "$UUID3" name)/$(count)" "/$registered" "and registers nothing"
out=$("$HOOK" --dry-run web3 prepare begin - <<<"${web3/pool=\'A\'/pool=\'Z\'}" 2>&1); rc=$?
is "$rc" 1 "--dry-run prepare with a pool the mediator lacks: exit 1, as the start would fail"
like "$out" "vgpu: domain 'web3': pool Z is not configured at the mediator \(pools: A, B\)$" "naming the pools there are"
out=$("$HOOK" --dry-run web3 prepare begin - <<<"${web3/vm-id=\'9\'/vm-id=\'7\'}" 2>&1); rc=$?
like "$rc/$(tail -n 1 <<<"$out")" "^1/vgpu: domain 'web3': vm-id 7 is already used by domain 'web1' \(uuid $UUID1\)$" \
    "--dry-run prepare with a vm-id in use: exit 1, naming the other domain"
out=$("$HOOK" --dry-run web1 release end - <<<"$web1" 2>&1); rc=$?
like "$rc/$(sed -n 2p <<<"$out")" "^0/vgpu: release would unregister it$" "--dry-run release says it would unregister"
is "$(lv_list_field "$UUID1" name)" web1 "and leaves the domain registered"
out=$("$HOOK" --dry-run plain prepare begin - <<<"$plain_domain" 2>&1); rc=$?
is "$rc/$out" "0/vgpu: domain 'plain': no <vgpu:device> in its metadata: nothing to do" \
    "--dry-run on a domain without the metadata says there is nothing to do"
lv_mediator_stop
out=$("$HOOK" --dry-run web3 prepare begin - <<<"$web3" 2>&1); rc=$?
like "$rc/$(tail -n 1 <<<"$out")" "^1/vgpu: domain 'web3': vgpu-mediatord is not running \(no socket at $LV_RUN/control.sock\)$" \
    "--dry-run with the mediator down: exit 1 and the message virsh start would show"
