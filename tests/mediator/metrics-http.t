#!/bin/bash
# GET /metrics over HTTP (metrics-listen): the same text as `vgpuctl
# metrics` (one generator), in Prometheus's format as promtool checks it,
# with histograms whose buckets count what the devices did and the bytes
# of the data window that array operations moved; other paths
# and methods are refused.  No HTTP client disturbs the devices' requests:
# silent ones past metrics-clients-max are closed at once and the others
# after 10 s, malformed ones get 400 or a close, scrapes in a storm and
# scrapes whose client vanishes are answered or dropped without a trace.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 22

clients() { python3 "$top/tests/mediator/http-clients.py" "$@"; }
port=$(clients free-port)
url="http://127.0.0.1:$port/metrics"
max_clients=4
pools="[pool A]
backend=cpu
service-time-us=2000
[pool B]
backend=cpu"
write_config "metrics-listen=127.0.0.1:$port" "metrics-clients-max=$max_clients" "vm-queue-limit=1000"
start_daemon || bail "daemon did not start"
like "$(cat "$tmp/daemon.log")" "metrics for Prometheus at http://127.0.0.1:$port/metrics" \
    "the daemon says where it serves the metrics"

u1=$(uuid_n 1); u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name 'web "one"' >/dev/null
vgpuctl register "$u2" --pool B --priority low --vm-id 2 --name two >/dev/null
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u1" --submit 20 --bad 3 > "$tmp/one.out"
"$build/tests/fake-device" --socket "$dev_sock" --uuid "$u2" --submit 7 > "$tmp/two.out"
# VM 2's array operations on its data window: an add of 1000 floats reads
# 8000 bytes and writes 4000, a sum of 500 reads 2000, an 8x8x8 SGEMM reads
# A and B (512) and writes C (256); one refused for its range moves none.
for op in "--op add-f32 --count 1000" "--op sum --count 500" "--op sgemm --m 8 --n 8 --k 8" \
          "--op sum --count 5 --a 1048572 --expect BAD_RANGE"; do
    "$build/tests/window-client" --socket "$dev_sock" --uuid "$u2" $op > /dev/null ||
        echo "window-client $op failed"
done

curl -s -D "$tmp/headers" -o "$tmp/http.txt" "$url"
vgpuctl metrics > "$tmp/ctl.txt"
is "$(sed -n 1p "$tmp/headers" | tr -d '\r')" "HTTP/1.1 200 OK" "GET /metrics answers 200"
like "$(tr -d '\r' < "$tmp/headers")" "Content-Type: text/plain; version=0.0.4; charset=utf-8" \
    "in the text exposition format 0.0.4"
ok "$(cmp -s "$tmp/http.txt" "$tmp/ctl.txt"; echo $?)" \
    "byte for byte what vgpuctl metrics prints ($(wc -l < "$tmp/http.txt") lines)"
promtool check metrics < "$tmp/http.txt" > "$tmp/promtool.out" 2>&1
ok $? "promtool check metrics finds no problem (names, units, HELP, TYPE)" ||
    diag "$(cat "$tmp/promtool.out")"

# What the buckets say, per VM: "count le-2ms le-5ms +Inf sum>=count*2ms".
series() { python3 - "$tmp/http.txt" "$1" "$2" <<'PY'
import re, sys
text, family, vm_id = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
def value(suffix, extra=""):
    pat = r'^%s%s\{[^}]*vm_id="%s"[^}]*%s\} (\S+)$' % (family, suffix, vm_id, extra)
    return float(re.search(pat, text, re.M).group(1))
print(int(value("_count")), int(value("_bucket", ',le="0.002"')),
      int(value("_bucket", ',le="0.005"')), int(value("_bucket", ',le="\\+Inf"')),
      value("_sum") >= value("_count") * 0.002)
PY
}
# Pool A's lane takes at least 2 ms a request: none of VM 1's 20 runs in
# 2 ms or less (a few may take over 5 ms on a loaded host).
like "$(series vgpu_vm_exec_seconds 1)" "^20 0 ([0-9]|1[0-9]|20) 20 True$" \
    "VM 1's execution histogram: 20 runs, none within 2 ms, all in +Inf, sum over 20 x 2 ms"
is "$(series vgpu_vm_exec_seconds 2 | cut -d' ' -f1,4)" "10 10" \
    "VM 2's: 10 runs (7 requests, 3 array operations; the refused one did not run)"
like "$(cat "$tmp/http.txt")" "vgpu_vm_request_errors_total\{uuid=\"$u1\",name=\"web \\\\\"one\\\\\"\",vm_id=\"1\",pool=\"A\",priority=\"high\",code=\"BAD_VERSION\"\} 3" \
    "errors by code, with the VM's labels (the name's quotes escaped)"
like "$(cat "$tmp/http.txt")" 'vgpu_device_connections_total 6' "device connections counted"
is "$(grep -E '^vgpu_vm_window_(read|written)_bytes_total\{[^}]*vm_id="2"' "$tmp/http.txt" | awk '{ print $2 }' | tr '\n' ' ')" \
    "10512 4256 " "VM 2's window bytes read and written: those of its operations' ranges"
like "$(cat "$tmp/http.txt")" 'vgpu_registrations_total 2' "registrations counted"

is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" 404 "another path: 404"
is "$(curl -s -o /dev/null -w '%{http_code} %header{allow}' -X POST "$url")" "405 GET, HEAD" \
    "another method: 405, saying which are allowed"
is "$(curl -s -I -o /dev/null -w '%{http_code} %header{content-length}' "$url")" \
    "200 $(wc -c < "$tmp/http.txt")" "HEAD: 200 with the length of the text, and no body"

# Hostile clients while a device sends requests.
clients hold "$port" "$max_clients" 15 > "$tmp/held.out" &
holder=$!
bg_pids+=($holder)
vgpu_wait_until 5 grep -q holding "$tmp/held.out"
# (One program for all five: on a loaded host each start of one takes
# seconds, and the held clients are closed after 10 s.)
is "$(clients refused "$port" 5)" "5 closed at once" "clients past metrics-clients-max are closed at once"
fake busy --uuid "$u2" --submit 300
wait_pid 30 "$pid_busy"
is "$wait_status:$(grep -c '^complete .*error=OK' "$tmp/busy.out")" "0:300" \
    "a device's 300 requests all complete while every metrics slot is held"
wait "$holder"
like "$(cat "$tmp/held.out")" "^$max_clients of $max_clients closed, first after (9|1[0-4])\.[0-9] s" \
    "silent and half-sent clients are closed after 10 s ($(tail -n 1 "$tmp/held.out"))"
is "$(grep -c 'refused: already 4 connections (metrics-clients-max)' "$tmp/daemon.log")" 1 \
    "the refusals are logged once for the episode"

is "$(clients garbage "$port" | tr '\n' ',')" \
    "HTTP/1.0 400 Bad Request,HTTP/1.0 400 Bad Request,HTTP/1.0 505 HTTP Version Not Supported,HTTP/1.1 400 Bad Request,closed," \
    "malformed requests get 400 (505 for an unknown HTTP version; a 1 MiB header line a close)"
clients vanish "$port" 50
# A storm of scrapes beside a device: each scrape is answered, each request completes.
fake storm --uuid "$u2" --submit 300
storm_ok=0 n=0
for _ in $(seq 20); do
    scrapes=()
    for _ in 1 2 3 4; do
        n=$((n + 1))
        curl -s -o "$tmp/scrape.$n" "$url" &
        scrapes+=($!)
    done
    wait "${scrapes[@]}"
done
wait_pid 30 "$pid_storm"
for f in "$tmp"/scrape.*; do grep -q '^vgpu_up 1$' "$f" && storm_ok=$((storm_ok + 1)); done
is "$wait_status:$(grep -c '^complete .*error=OK' "$tmp/storm.out"):$storm_ok" "0:300:80" \
    "80 scrapes, 4 at a time, beside 300 requests: every request completes, every scrape is whole"
ok "$(! grep -q ': error: ' "$tmp/daemon.log"; echo $?)" \
    "no error in the log after 50 clients vanished in mid-scrape" ||
    diag "$(grep ': error: ' "$tmp/daemon.log" | head -5)"
vgpuctl ping > /dev/null && curl -sf -o /dev/null "$url"
ok $? "afterwards the daemon answers vgpuctl and scrapes"
