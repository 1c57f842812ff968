#!/bin/bash
# Metrics labels are whole however long the domain name and however many
# characters it needs escaped: two VMs named 255 '"' and 255 '\' each have
# their own series, with every label (uuid, name, vm_id, pool, priority).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 3

write_config
start_daemon || bail "daemon did not start"
quotes=$(printf '"%.0s' $(seq 255)); backslashes=$(printf '\\%.0s' $(seq 255))
vgpuctl register "$(uuid_n 1)" --pool A --priority high --vm-id 1 --name "$quotes" >/dev/null
vgpuctl register "$(uuid_n 2)" --pool B --priority low --vm-id 2 --name "$backslashes" >/dev/null
vgpuctl metrics > "$tmp/metrics.txt"
python3 - "$tmp/metrics.txt" > "$tmp/labels.txt" <<'PY'
import re, sys
label = r'(\w+)="((?:[^"\\]|\\.)*)"'
seen = {}
for line in open(sys.argv[1]):
    if line.startswith("vgpu_vm_requests_submitted_total{"):
        inner = line[line.index("{") + 1:line.rindex("}")]
        pairs = re.findall(label, inner)
        rebuilt = ",".join('%s="%s"' % p for p in pairs)
        names = [k for k, _ in pairs]
        value = dict(pairs)["name"].encode().decode("unicode_escape")
        seen[dict(pairs)["vm_id"]] = (rebuilt == inner, names, len(value), set(value))
for vm_id in sorted(seen):
    whole, names, length, chars = seen[vm_id]
    print(vm_id, whole, ",".join(names), length, "".join(sorted(chars)))
PY
is "$(wc -l < "$tmp/labels.txt")" 2 "each VM has its own series"
is "$(sed -n 1p "$tmp/labels.txt")" '1 True uuid,name,vm_id,pool,priority 255 "' \
    "VM 1: every label whole, the name's 255 quotes escaped"
is "$(sed -n 2p "$tmp/labels.txt")" '2 True uuid,name,vm_id,pool,priority 255 \' \
    "VM 2: every label whole, the name's 255 backslashes escaped"
