#!/usr/bin/env python3
"""HTTP clients for the mediator's /metrics endpoint, polite and hostile,
reporting what the mediator did with them.

  http-clients.py free-port
      print a TCP port on 127.0.0.1 that nothing listens on now
  http-clients.py hold PORT N SECONDS
      open N connections that send nothing (one sends half a request line);
      print "holding", then once all are closed or SECONDS passed:
      "<closed> of <N> closed, first after <s> s, last after <s> s"
  http-clients.py refused PORT N
      N times: connect and see what happens within 2 s; print how many
      were "closed at once" (EOF without a byte of a response)
  http-clients.py garbage PORT
      send malformed requests, one connection each; print one line per
      request: the response's status line, or "closed"
  http-clients.py vanish PORT N
      N times: send a GET for /metrics and close before the answer, then
      give the mediator 50 ms to notice (so that the next finds a slot)
"""
import socket
import sys
import time

HOST = "127.0.0.1"


def connect(port):
    return socket.create_connection((HOST, port), timeout=5)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        print(s.getsockname()[1])


def hold(port, n, seconds):
    socks = [connect(port) for _ in range(n)]
    socks[0].sendall(b"GET /metr")
    print("holding", flush=True)
    start = time.monotonic()
    closed = []
    for s in socks:
        s.settimeout(max(0.1, seconds - (time.monotonic() - start)))
        try:
            if s.recv(1) == b"":
                closed.append(time.monotonic() - start)
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed.append(time.monotonic() - start)
    if closed:
        print("%d of %d closed, first after %.1f s, last after %.1f s"
              % (len(closed), n, min(closed), max(closed)))
    else:
        print("0 of %d closed" % n)


def refused(port, n):
    closed = 0
    for _ in range(n):
        s = connect(port)
        s.settimeout(2)
        try:
            closed += s.recv(1) == b""
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed += 1
        s.close()
    print("%d closed at once" % closed)


GARBAGE = [
    b"\x00\x01\x02\xff\xfe binary\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /metrics HTTP/9.9\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost x\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\n",
]


def garbage(port):
    for request in GARBAGE:
        s = connect(port)
        try:
            s.sendall(request)
            reply = s.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            reply = b""
        s.close()
        print(reply.split(b"\r\n")[0].decode("latin-1") if reply else "closed")


def vanish(port, n):
    for _ in range(n):
        s = connect(port)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
        time.sleep(0.05)


def main():
    mode = sys.argv[1]
    if mode == "free-port":
        free_port()
    elif mode == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "refused":
        refused(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "garbage":
        garbage(int(sys.argv[2]))
    elif mode == "vanish":
        vanish(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
