#!/bin/bash
# The control socket speaks one JSON object per line: malformed JSON,
# unknown commands and bad arguments get an error reply and the connection
# keeps working; an oversized line gets an error reply and is closed; the
# socket is mode 0600; other clients are never affected.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 8

write_config
start_daemon || bail "daemon did not start"

# talk LINES...: send each line on one connection, print the replies.
talk() {
    python3 - "$run/control.sock" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rb")
for line in sys.argv[2:]:
    try:
        s.sendall(line.encode() + b"\n")
        reply = f.readline()
    except (BrokenPipeError, ConnectionResetError):
        reply = b""
    print(reply.decode().rstrip("\n") if reply else "<closed>")
PY
}

is "$(stat -c %a "$run/control.sock")" 600 "the control socket is mode 0600"
is "$(stat -c %a "$run/mediator.sock")" 660 "the device socket is mode 0660"

replies=$(talk '{"command":"ping"' 'not json at all' '{"command":"reboot"}' \
               '{"command":"unregister","uuid":"nope"}' '{"command":"ping"}')
like "$(echo "$replies" | sed -n 1p)" '^\{"ok":false,"error":"malformed-request","message":"request is not valid JSON' \
    "a truncated request gets malformed-request"
like "$(echo "$replies" | sed -n 2p)" '"error":"malformed-request"' "garbage gets malformed-request"
like "$(echo "$replies" | sed -n 3p)" '"error":"unknown-command","message":"unknown command \\"reboot\\" \(commands: ping, register' \
    "an unknown command gets unknown-command with the list of commands"
like "$(echo "$replies" | sed -n 4p)" '"error":"bad-argument","message":"uuid \\"nope\\" is not a UUID' \
    "a bad argument gets bad-argument"
like "$(echo "$replies" | sed -n 5p)" '^\{"ok":true,"version":' "the same connection still works after errors"

big=$(head -c 70000 /dev/zero | tr '\0' 'x')
replies=$(talk "$big" '{"command":"ping"}')
is "$(echo "$replies" | sed 's/"message":"[^"]*"/"message":…/')" '{"ok":false,"error":"request-too-long","message":…}
<closed>' "an oversized line gets request-too-long and the connection is closed"
