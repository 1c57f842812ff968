#!/bin/bash
# The Grafana dashboard (mediator/grafana/vgpu-dashboard.json) references
# only metrics that the mediator exports, has the panels the operators
# asked for (per pool and per VM: throughput, errors, p50 and p99 of queue
# wait and execution, queue depth; GPU busy per unit), and takes its data
# source from a variable, so that it works imported or provisioned.
# tests/mediator/prometheus.t evaluates every expression on Prometheus.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

plan 6

dashboard="$top/mediator/grafana/vgpu-dashboard.json"
write_config
start_daemon || bail "daemon did not start"
vgpuctl metrics > "$tmp/metrics.txt"

# dash PY [ARG...]: run Python over the dashboard (d), its panels (panels)
# and the expressions of its panels and variables (exprs), with ARGs in
# args, printing what PY prints.
dash() {
    python3 - "$dashboard" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
panels = [p for top in d["panels"] for p in [top] + top.get("panels", [])]
exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
exprs += [v["definition"] for v in d["templating"]["list"] if v["type"] == "query"]
args = sys.argv[3:]
exec(sys.argv[2])
PY
}

ok "$(dash 'pass'; echo $?)" "the dashboard is JSON"
used=$(dash 'import re; print("\n".join(sorted({m for e in exprs for m in re.findall(r"\bvgpu_[a-z0-9_]+", e)})))')
exported=$(awk '$1 == "#" && $2 == "TYPE" {
    if ($4 == "histogram") print $3 "_bucket\n" $3 "_sum\n" $3 "_count"; else print $3 }' \
    "$tmp/metrics.txt" | sort -u)
is "$(comm -23 <(echo "$used") <(echo "$exported"))" "" \
    "every metric the dashboard references is exported ($(echo "$used" | wc -l) of them)"

# What the operators asked for: an expression matches each of these.
wanted=()
for kind in pool vm; do
    wanted+=("rate\(vgpu_${kind}_requests_completed_total"
             "rate\(vgpu_${kind}_request_errors_total"
             "histogram_quantile\(0\.5, .*vgpu_${kind}_queue_wait_seconds_bucket"
             "histogram_quantile\(0\.99, .*vgpu_${kind}_queue_wait_seconds_bucket"
             "histogram_quantile\(0\.5, .*vgpu_${kind}_exec_seconds_bucket"
             "histogram_quantile\(0\.99, .*vgpu_${kind}_exec_seconds_bucket"
             "vgpu_${kind}_requests_queued")
done
wanted+=("rate\(vgpu_unit_busy_seconds_total")
missing=$(dash 'import re; print("\n".join(w for w in args if not any(re.search(w, e) for e in exprs)))' \
          "${wanted[@]}")
is "$missing" "" "per pool and per VM: throughput, errors, wait and execution p50 and p99, queue depth; GPU busy"
is "$(dash 'print(sorted({v["name"] for v in d["templating"]["list"]}))')" \
    "['datasource', 'instance', 'pool', 'vm']" "variables: data source, host, pool, VM"
is "$(dash 'print(sorted({json.dumps(x.get("datasource")) for p in panels if p["type"] != "row" for x in [p] + p["targets"]}))')" \
    '['"'"'{"type": "prometheus", "uid": "${datasource}"}'"'"']' \
    "every panel and query takes its data source from the variable"
is "$(dash 'print(len({p["id"] for p in panels}) == len(panels), all(p["gridPos"]["w"] + p["gridPos"]["x"] <= 24 for p in panels))')" \
    "True True" "panel ids are unique and each panel fits the 24-column grid"
