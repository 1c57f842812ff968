#!/bin/bash
# A missing or bad config stops the daemon at start with one clear error
# naming the file, line and key (exit 2); --check-config checks a file;
# start-up problems (runtime dir, a daemon already running) exit 1.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 20

daemon() { "$build/vgpu-mediatord" --foreground "$@" 2>&1; }

out=$(daemon --config "$tmp/none.conf"); status=$?
is "$status" 2 "a missing config exits 2"
like "$out" "$tmp/none.conf.*No such file or directory" "the error names the missing file"

printf '[mediator]\nruntime-dir=%s\n[pool A]\nbackend=cpu\nworkers=many\n' "$run" > "$tmp/bad.conf"
out=$(daemon --config "$tmp/bad.conf"); status=$?
is "$status" 2 "a bad value exits 2"
is "$out" "vgpu-mediatord: $tmp/bad.conf:5: [pool A] workers: \"many\" is not a whole number in 1..64" \
    "the error names file, line, group and key"

printf '[mediator]\nruntime-dir=%s\nqueue_limit=5\n[pool A]\nbackend=cpu\n' "$run" > "$tmp/typo.conf"
like "$(daemon --config "$tmp/typo.conf")" "typo.conf:3: \[mediator\] queue_limit: unknown key" \
    "a misspelt key is an error at its line"

printf '[mediator]\nruntime-dir=%s\n' "$run" > "$tmp/nopool.conf"
like "$(daemon --config "$tmp/nopool.conf")" "nopool.conf: no pool is defined" "a config without pools is refused"

ok "$(test ! -e "$run"; echo $?)" "a refused config creates nothing"

out=$("$build/vgpu-mediatord" --check-config --config "$top/mediator/mediator.conf"); status=$?
is "$status:$out" "0:$top/mediator/mediator.conf: OK (pools: A, B)" "the shipped default config checks OK"

touch "$tmp/file"
printf '[mediator]\nruntime-dir=%s/file/run\n[pool A]\nbackend=cpu\n' "$tmp" > "$tmp/norun.conf"
out=$(daemon --config "$tmp/norun.conf"); status=$?
is "$status" 1 "a runtime dir that cannot be created exits 1"
like "$out" "cannot create runtime-dir $tmp/file/run" "and says which directory"

# A runtime dir someone else could write to: its sockets could be replaced.
mkdir -p "$tmp/shared" && chmod 1777 "$tmp/shared"
printf '[mediator]\nruntime-dir=%s/shared\n[pool A]\nbackend=cpu\n' "$tmp" > "$tmp/shared.conf"
out=$(daemon --config "$tmp/shared.conf"); status=$?
is "$status" 1 "a world-writable runtime dir exits 1"
like "$out" "runtime-dir $tmp/shared is writable by every user \(mode 1777\): not trusted" "and says why"
mkdir -p "$tmp/theirs" && chown nobody "$tmp/theirs"
printf '[mediator]\nruntime-dir=%s/theirs\n[pool A]\nbackend=cpu\n' "$tmp" > "$tmp/theirs.conf"
out=$(daemon --config "$tmp/theirs.conf"); status=$?
is "$status" 1 "a runtime dir of another user exits 1"
like "$out" "runtime-dir $tmp/theirs belongs to uid $(id -u nobody), neither this user nor root nor a system user" \
    "and says whose it is"
ln -s "$tmp/theirs" "$tmp/link"
printf '[mediator]\nruntime-dir=%s/link\n[pool A]\nbackend=cpu\n' "$tmp" > "$tmp/link.conf"
out=$(daemon --config "$tmp/link.conf"); status=$?
is "$status" 1 "a runtime dir that is a symbolic link exits 1"
ok "$(test ! -e "$tmp/shared/mediator.sock" -a ! -e "$tmp/theirs/mediator.sock"; echo $?)" \
    "no socket was made in any of them"

write_config
start_daemon || bail "daemon did not start"
out=$(daemon --config "$conf"); status=$?
is "$status" 1 "a second daemon on the same runtime dir exits 1"
like "$out" "another vgpu-mediatord is already listening on $run/" "and says why"
vgpuctl ping >/dev/null
is "$?" 0 "the first daemon is unaffected"

out=$("$build/vgpu-mediatord" --bogus 2>&1); status=$?
is "$status" 2 "an unknown option exits 2"
