#!/bin/bash
# The registry's state file is the daemon's alone: written 0600 whatever
# the umask, never read through a symbolic link or when another user owns
# it, and restored in one pass (3000 VMs in well under the hook's patience)
# with one write at the end instead of one per VM.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 11
state=$run/registry.jsonl

write_config
start_daemon sh -c 'umask 000; exec "$0" "$@"' || bail "daemon did not start"
vgpuctl register "$(uuid_n 1)" --pool A --priority low --vm-id 1 >/dev/null
is "$(stat -c '%a %U' "$state")" "600 root" "under umask 000 the state file is 0600, the daemon's user's"
stop_daemon

# A forged state file behind a symbolic link.
printf '{"command":"register","uuid":"%s","name":"forged","pool":"B","priority":"high","vm_id":9}\n' \
    "$(uuid_n 9)" > "$tmp/forged.jsonl"
cp "$tmp/forged.jsonl" "$tmp/forged.orig"
rm -f "$state"; ln -s "$tmp/forged.jsonl" "$state"
: > "$tmp/daemon.log"
start_daemon || bail "daemon did not restart"
is "$(vgpuctl list --json | json "len(j['vms'])")" 0 "a state file that is a symbolic link is not restored"
like "$(cat "$tmp/daemon.log")" "not restoring the registry from $state: it is a symbolic link" \
    "and the log says why"
ok "$([ ! -L "$state" ] && cmp -s "$tmp/forged.jsonl" "$tmp/forged.orig"; echo $?)" \
    "the daemon's save replaces the link and leaves its target alone"
stop_daemon

# Another user's file.
cp "$tmp/forged.orig" "$state"; chown nobody "$state"
: > "$tmp/daemon.log"
start_daemon || bail "daemon did not restart"
is "$(vgpuctl list --json | json "len(j['vms'])")" 0 "a state file another user owns is not restored"
like "$(cat "$tmp/daemon.log")" "not restoring the registry from $state: not a regular file of this user" \
    "and the log says why"
stop_daemon

# 3000 VMs: restored in one pass, the file written once.
python3 - "$state" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for n in range(1, 3001):
        f.write('{"command":"register","uuid":"00000000-0000-4000-8000-%012d","name":"vm%d",'
                '"pool":"A","priority":"low","vm_id":%d}\n' % (n, n, n))
PY
chown root "$state"
: > "$tmp/daemon.log"
DAEMON_START_LIMIT=10 start_daemon
ok $? "with 3000 VMs in the state file the daemon answers within 10 s"
is "$(vgpuctl list --json | json "len(j['vms'])")" 3000 "all 3000 are registered again"
is "$(wc -l < "$state")" 3000 "and the state file holds them"

# registry-file-max: a state file over it is not restored, and the log says why.
stop_daemon
write_config "registry-file-max=65536"
: > "$tmp/daemon.log"
start_daemon || bail "daemon did not restart"
is "$(vgpuctl list --json | json "len(j['vms'])")" 0 "a state file over registry-file-max is not restored"
like "$(cat "$tmp/daemon.log")" "not restoring the registry from $state: .*at most 65536 bytes \\(registry-file-max\\)" \
    "the log names the limit"
