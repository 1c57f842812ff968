#!/usr/bin/env python3
"""Register the VMs vgpu-loadgen plays, over one control connection.

  register-vms.py CONTROL-SOCKET FIRST COUNT PRIORITY [POOL]

VM index i (FIRST .. FIRST + COUNT - 1) gets UUID
00000000-0000-4000-8000-<i in 12 digits>, vm-id i and name vm-<i>, as
bench/load-device.h says.  One connection for all: `vgpuctl register`
once per VM takes about 0.1 s each on 2 cores, 30 s for 256 VMs.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    path, first, count, priority = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    pool = sys.argv[5] if len(sys.argv) == 6 else "A"
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    for i in range(first, first + count):
        f.write(json.dumps({"command": "register", "uuid": "00000000-0000-4000-8000-%012d" % i,
                            "name": "vm-%d" % i, "pool": pool, "priority": priority,
                            "vm_id": i}) + "\n")
        f.flush()
        reply = json.loads(f.readline())
        if not reply.get("ok"):
            sys.exit("register vm %d: %s" % (i, reply))


if __name__ == "__main__":
    main()
