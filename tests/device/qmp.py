#!/usr/bin/env python3
"""Send QMP commands to a QEMU monitor socket and print each reply.

    qmp.py SOCKET 'JSON COMMAND' ...

Prints one JSON reply line per command (events are skipped).  Exits 1 when
a command fails or the socket does not answer within the timeout.
"""
import json
import socket
import sys

TIMEOUT_S = 10


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT_S)
    sock.connect(sys.argv[1])
    stream = sock.makefile("rw")

    def reply():
        while True:
            line = stream.readline()
            if not line:
                sys.exit("qmp.py: QEMU closed the monitor")
            msg = json.loads(line)
            if "return" in msg or "error" in msg or "QMP" in msg:
                return msg

    def execute(command):
        stream.write(command + "\n")
        stream.flush()
        return reply()

    reply()                                     # greeting
    execute('{"execute": "qmp_capabilities"}')
    status = 0
    for command in sys.argv[2:]:
        msg = execute(command)
        print(json.dumps(msg))
        if "error" in msg:
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
