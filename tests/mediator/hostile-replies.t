#!/bin/bash
# A control socket that answers with absurdly nested JSON (a hostile
# daemon, or a socket path a domain XML points the hook at) gets a clear
# error from vgpuctl and the libvirt hook, never a crash: json-glib's parser
# recurses once per level, so the client refuses replies nested too deep.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6
mkdir -p "$tmp/hostile"
python3 - "$tmp/hostile/control.sock" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
s.settimeout(60)
replies = [b"[" * 100000 + b"\n", b'{"ok":true,"x":' + b"{\"a\":" * 50000 + b"\n"]
for i in range(4):
    c, _ = s.accept()
    c.makefile("rb").readline()
    c.sendall(replies[i % 2])
    c.close()
PY
bg_pids+=($!)
vgpu_wait_until 10 test -S "$tmp/hostile/control.sock"

for shape in arrays objects; do
    out=$("$build/vgpuctl" --runtime-dir "$tmp/hostile" ping 2>&1); status=$?
    is "$status" 3 "vgpuctl on a reply of 100000 nested $shape: exit 3, no crash"
    like "$out" "sent a reply that is not a JSON object with \"ok\"" "and a clear error"
done

cat > "$tmp/domain.xml" <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>web</name><uuid>$(uuid_n 1)</uuid>
  <metadata><vgpu:device xmlns:vgpu='urn:vgpu-stub:libvirt:1' pool='A' priority='high' vm-id='7'/></metadata>
  <qemu:commandline>
    <qemu:arg value='-chardev'/>
    <qemu:arg value='socket,id=vgpu0,path=$tmp/hostile/mediator.sock,reconnect=1'/>
    <qemu:arg value='-device'/><qemu:arg value='vgpu-stub,chardev=vgpu0'/>
  </qemu:commandline>
</domain>
XML
out=$("$build/vgpu-libvirt-hook" web prepare begin - < "$tmp/domain.xml" 2>&1); status=$?
is "$status" 1 "the hook, pointed at it by a domain XML: exit 1, no crash"
like "$out" "^vgpu: domain 'web': .*not a JSON object" "with one line saying why"
