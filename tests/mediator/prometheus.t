#!/bin/bash
# A real Prometheus server (Debian's prometheus, run by this test as an
# unprivileged process with its own config and storage) scrapes a mediator
# serving fake devices every second; through Prometheus's HTTP query API,
# rate() of completed requests matches the rate the test's requests ran
# at, and histogram_quantile() of queue wait and execution time lies in
# the bucket of what the test made them (and of vgpuctl stats' exact
# percentiles).  Every expression of the Grafana dashboard evaluates there.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 11

clients() { python3 "$top/tests/mediator/http-clients.py" "$@"; }
port=$(clients free-port)
prom_port=$(clients free-port)
service_us=10000        # pool A's lane: at most 100 requests a second
sent=500
pools="[pool A]
backend=cpu
service-time-us=$service_us
[pool B]
backend=cpu"
write_config "metrics-listen=127.0.0.1:$port" "vm-queue-limit=1000"
start_daemon || bail "daemon did not start"
u1=$(uuid_n 1); u2=$(uuid_n 2)
vgpuctl register "$u1" --pool A --priority high --vm-id 1 --name steady >/dev/null
vgpuctl register "$u2" --pool B --priority low --vm-id 2 --name waiting >/dev/null

# Prometheus's own directory: one an unprivileged user can write.
prom_dir=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-prometheus.XXXXXX")
prom_pid=
prom_cleanup() {
    [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && vgpu_wait_pid 10 "$prom_pid"
    rm -rf "$prom_dir"
    cleanup
}
trap prom_cleanup EXIT
cat > "$prom_dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: vgpu
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
as_user=()
if [ "$(id -u)" = 0 ]; then
    chown -R nobody:nogroup "$prom_dir"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
"${as_user[@]}" prometheus --config.file="$prom_dir/prometheus.yml" \
    --storage.tsdb.path="$prom_dir/data" --web.listen-address="127.0.0.1:$prom_port" \
    --log.level=warn > "$tmp/prometheus.log" 2>&1 &
prom_pid=$!
prom="http://127.0.0.1:$prom_port"

# promql EXPR [TIME]: the value of each sample of an instant query, one a
# line; "error: ..." when Prometheus refuses it.
promql() {
    python3 - "$prom" "$@" <<'PY'
import json, sys, urllib.parse, urllib.request
params = {"query": sys.argv[2]}
if len(sys.argv) > 3:
    params["time"] = sys.argv[3]
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode(params)
try:
    reply = json.load(urllib.request.urlopen(url, timeout=10))
except urllib.error.HTTPError as e:
    reply = json.load(e)
if reply["status"] != "success":
    print("error: " + reply.get("error", "?"))
else:
    for sample in reply["data"]["result"]:
        print(sample["value"][1])
PY
}
now() { date +%s.%N; }
# The moment of Prometheus's latest scrape of the mediator (0 before any).
last_scrape() { promql 'timestamp(vgpu_up{job="vgpu"})' | grep -E '^[0-9.]+$' || echo 0; }
# scraped_after T: Prometheus has scraped at least twice since T.
scraped_after() { python3 -c "import sys; sys.exit(not float('$(last_scrape)') >= $1 + 1)"; }

vgpu_wait_until 60 curl -sf -o /dev/null "$prom/-/ready"
ok $? "Prometheus ${as_user:+runs as nobody and }is ready" || diag "$(tail -n 5 "$tmp/prometheus.log")"
up_is_1() { [ "$(promql 'up{job="vgpu"}')" = 1 ]; }
vgpu_wait_until 30 up_is_1
ok $? "it scrapes the mediator: up{job=\"vgpu\"} is 1"

# Steady traffic: VM 1's requests, pipelined, on one lane that takes 10 ms
# each.  Meanwhile an observer of its own notes, every 0.2 s, the time and
# how many have completed (over the control socket, apart from Prometheus):
# on a loaded host the lane's rate varies, so the rate to compare with is
# that of the very window rate() looks at.
python3 - "$run/control.sock" $sent "$tmp/progress" <<'PY' &
import json, socket, sys, time
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
replies = sock.makefile("rb")
with open(sys.argv[3], "w") as notes:
    while True:
        before = time.time()
        sock.sendall(b'{"command":"stats"}\n')
        stats = json.loads(replies.readline())
        after = time.time()
        done = [v for v in stats["vms"] if v["vm_id"] == 1][0]["completed"]
        notes.write("%.6f %d\n" % ((before + after) / 2, done))
        notes.flush()
        if done >= int(sys.argv[2]):
            break
        time.sleep(0.2)
PY
observer=$!
bg_pids+=($observer)
vgpu_wait_until 30 test -s "$tmp/progress"      # it runs before the device does
fake steady --uuid "$u1" --submit $sent --timeout 120000
wait_pid 120 "$pid_steady"
vgpu_wait_pid 10 "$observer"
end=$(now)
is "$(grep -c '^complete .*error=OK' "$tmp/steady.out")" $sent "the device's $sent requests completed"
vgpu_wait_until 30 scraped_after "$end"
ok $? "Prometheus scraped twice after the traffic"
is "$(promql 'vgpu_vm_requests_completed_total{vm_id="1"}')" $sent \
    "Prometheus has VM 1's completed requests: $sent"
# rate() over the 4 s before the last note of an unfinished run, and the
# observer's count over the same 4 s (linear between its notes).
read -r at sent_rate < <(python3 - "$tmp/progress" $sent <<'PY'
import sys
notes = [(float(t), int(c)) for t, c in (line.split() for line in open(sys.argv[1]))]
end = max(t for t, c in notes if c < int(sys.argv[2]))
def done_at(t):
    for (t0, c0), (t1, c1) in zip(notes, notes[1:]):
        if t0 <= t <= t1:
            return c0 + (c1 - c0) * (t - t0) / (t1 - t0)
    sys.exit("no note around %.2f" % t)
print("%.3f %.2f" % (end, (done_at(end) - done_at(end - 4)) / 4))
PY
)
prom_rate=$(promql 'rate(vgpu_vm_requests_completed_total{vm_id="1"}[4s])' "$at")
ok "$(python3 -c "import sys; sys.exit(not abs(float('$prom_rate') / float('$sent_rate') - 1) <= 0.1)"; echo $?)" \
    "rate() of VM 1's completed requests over 4 s is the rate an observer of the control socket saw then, within 10%: $prom_rate/s against $sent_rate/s"
pool_rate=$(promql 'sum(rate(vgpu_pool_requests_completed_total[4s]))' "$at")
ok "$(python3 -c "import sys; sys.exit(not abs(float('$pool_rate') / float('$prom_rate') - 1) <= 0.02)"; echo $?)" \
    "and of the pools together: $pool_rate/s"

# Known waits: VM 2's requests queue while dispatching is paused for 0.3 s.
vgpuctl pause >/dev/null
fake waiting --uuid "$u2" --submit 20 --timeout 30000
vgpu_wait_until 10 queued_is "$u2" 20
sleep 0.3
vgpuctl resume >/dev/null
wait_pid 30 "$pid_waiting"
end=$(now)
vgpu_wait_until 30 scraped_after "$end"
vgpuctl stats --json > "$tmp/stats.json"
vm_hist() { json "[v for v in j['vms'] if v['vm_id']==$1][0]['$2']['$3']" < "$tmp/stats.json"; }

# in_bucket Q US: Q (seconds, from Prometheus) lies in the 1-2-5 bucket
# that holds US microseconds (vgpuctl stats' percentile, within 3.2%).
in_bucket() {
    python3 - "$1" "$2" <<'PY'
import sys
q, us = float(sys.argv[1]), int(sys.argv[2])
bounds = [m * 10 ** e for e in range(0, 7) for m in (1, 2, 5)] + [10 ** 7]
hi = next(b for b in bounds if us <= b)
lo = ([0] + bounds)[bounds.index(hi)]
print("%g..%g s" % (lo / 1e6, hi / 1e6))
sys.exit(not lo / 1e6 <= q <= hi / 1e6)
PY
}
wait_p50=$(vm_hist 2 queue_wait_us p50)
q=$(promql 'histogram_quantile(0.5, vgpu_vm_queue_wait_seconds_bucket{vm_id="2"})')
bucket=$(in_bucket "$q" "$wait_p50")
ok "$([ $? = 0 ] && [ "$wait_p50" -ge 300000 ]; echo $?)" \
    "histogram_quantile(0.5) of VM 2's queue wait, $q s, lies in $bucket, the bucket of vgpuctl stats' p50 ($wait_p50 us), which holds at least the 0.3 s pause"
wait_p99=$(vm_hist 2 queue_wait_us p99)
q=$(promql 'histogram_quantile(0.99, vgpu_vm_queue_wait_seconds_bucket{vm_id="2"})')
bucket=$(in_bucket "$q" "$wait_p99")
ok $? "histogram_quantile(0.99) of it, $q s, lies in $bucket (p99 $wait_p99 us)"
exec_p50=$(vm_hist 1 exec_time_us p50)
q=$(promql 'histogram_quantile(0.5, vgpu_vm_exec_seconds_bucket{vm_id="1"})')
bucket=$(in_bucket "$q" "$exec_p50")
ok "$([ $? = 0 ] && [ "$exec_p50" -ge $service_us ]; echo $?)" \
    "histogram_quantile(0.5) of VM 1's execution time, $q s, lies in $bucket, that of its 10 ms service time (p50 $exec_p50 us)"

# The dashboard's expressions, its variables set to "All" and its
# intervals to what this scrape interval allows: "error: ..." or how many
# samples each gives.
python3 - "$prom" "$top/mediator/grafana/vgpu-dashboard.json" > "$tmp/dashboard.out" <<'PY'
import json, sys, urllib.parse, urllib.request
prom, d = sys.argv[1], json.load(open(sys.argv[2]))
for top in d["panels"]:
    for p in [top] + top.get("panels", []):
        for t in p.get("targets", []):
            expr = t["expr"]
            for var, value in (("$__rate_interval", "4s"), ("$__range", "1m"),
                               ("$instance", ".*"), ("$pool", ".*"), ("$vm", ".*")):
                expr = expr.replace(var, value)
            url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            try:
                reply = json.load(urllib.request.urlopen(url, timeout=10))
                print("%d samples: %s" % (len(reply["data"]["result"]), t["expr"]))
            except urllib.error.HTTPError as e:
                print("error: %s: %s" % (json.load(e).get("error"), t["expr"]))
PY
is "$(grep -E '^error|^0 samples: .*[^0]$' "$tmp/dashboard.out")" "" \
    "each of the dashboard's $(wc -l < "$tmp/dashboard.out") expressions evaluates on Prometheus and gives samples (but error rates '> 0': none here)"
