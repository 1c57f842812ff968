#!/usr/bin/env python3
"""Hold raw connections to a mediator socket, the way a hostile peer would,
and report what the mediator did to them.

  hold-connections.py SOCKET N MODE [SECONDS]

MODE: silent   connect and send nothing
      hello    send HELLO (an unregistered UUID), then nothing
      partial  send HELLO, then 5 bytes of a message header
      line     (control socket) send half a request line
      flood    (control socket) send stats requests and never read, until closed
Prints one line: "<closed> of <N> closed, first after <ms> ms, last after <ms> ms"
(or "0 of N closed"), after waiting up to SECONDS (default 5) for the
mediator to close them; with --hold it keeps them open until killed.
"""
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x57475056
HELLO = 1


def hello_frame():
    uuid = bytes.fromhex("0000000000004000800000000000ffff")
    payload = uuid + struct.pack("<II", 0x00010000, 0)
    return struct.pack("<IIII", MAGIC, 1 | HELLO << 16, 0, len(payload)) + payload


def flood(socks, start, limit):
    """Send requests and never read the replies, until the mediator closes."""
    closed = []
    for s in socks:
        s.settimeout(max(0.1, limit - (time.monotonic() - start)))
        try:
            while True:
                s.sendall(b'{"command":"stats"}\n')
        except (BrokenPipeError, ConnectionResetError):
            closed.append((time.monotonic() - start) * 1000)
        except socket.timeout:
            pass
    if closed:
        print("%d of %d closed, first after %d ms, last after %d ms"
              % (len(closed), len(socks), min(closed), max(closed)))
    else:
        print("0 of %d closed" % len(socks))


def main():
    args = [a for a in sys.argv[1:] if a != "--hold"]
    hold = "--hold" in sys.argv
    path, n, mode = args[0], int(args[1]), args[2]
    limit = float(args[3]) if len(args) > 3 else 5.0
    socks = []
    start = time.monotonic()
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        try:
            if mode in ("hello", "partial"):
                s.sendall(hello_frame())
            if mode == "partial":
                s.sendall(struct.pack("<I", MAGIC) + b"\x01")
            if mode == "line":
                s.sendall(b'{"command":')
        except (BrokenPipeError, ConnectionResetError):
            pass        # closed before it could send: the wait below sees it
        socks.append(s)
    if mode == "flood":
        flood(socks, start, limit)
        return
    if hold:
        print("holding", flush=True)
        while True:
            time.sleep(60)
    closed = {}
    while len(closed) < n and time.monotonic() - start < limit:
        live = [s for s in socks if s.fileno() not in closed]
        ready, _, _ = select.select(live, [], [], 0.05)
        for s in ready:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                closed[s.fileno()] = (time.monotonic() - start) * 1000
    if closed:
        times = sorted(closed.values())
        print("%d of %d closed, first after %d ms, last after %d ms"
              % (len(closed), n, times[0], times[-1]))
    else:
        print("0 of %d closed" % n)


main()
