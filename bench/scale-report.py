#!/usr/bin/env python3
"""The scale benchmarks' results (bench/scale.sh; docs/benchmarks.md).

  scale-report.py account RESULT.json STATS.json
      the devices' counts in vgpu-loadgen's RESULT against `vgpuctl stats
      --json`: every VM's submitted and completed equal its device's count,
      no errors, and the totals (all VMs, the units) equal their sum.  The
      verdict and the unit's busy time go into RESULT; exit 1 unless exact.
  scale-report.py report DIR BACKEND
      the table and each goal met / not met, from DIR's JSON; writes
      DIR/bench.json (everything, with the machine) and the plots' data
      (DIR/scale.dat, DIR/isolation.dat, DIR/isolation-goal.dat, DIR/depth.dat).
"""
import datetime
import glob
import json
import os
import platform
import subprocess
import sys

MEMORY_GOAL = 64 * 1024         # bytes per VM without a window
BUSY_GOAL = 0.90                # of the time, the unit busy at saturation with several in flight
DEPTH_SPEEDUP_GOAL = 1.5        # requests/s against one in flight, in the same run
COLLAPSE_GOAL = 0.90            # of the peak throughput, from the peak's device count on


def load(path):
    with open(path) as f:
        return json.load(f)


def account(result_path, stats_path):
    r, st = load(result_path), load(stats_path)
    vms = {v["vm_id"]: v for v in st["vms"]}
    mismatches = []
    for index, count in r["completed_by_vm"]:
        v = vms.get(index)
        if not v or (v["submitted"], v["completed"], v["errors"]) != (count, count, {}):
            mismatches.append({"vm_id": index, "device": count, "stats": v and {
                k: v[k] for k in ("submitted", "completed", "errors")}})
    total = sum(c for _, c in r["completed_by_vm"])
    units = sum(u["requests"] for u in st["units"])
    exact = (not mismatches and st["total"]["submitted"] == total and
             st["total"]["completed"] == total and units == total)
    r["accounting"] = {"exact": exact, "vms": len(r["completed_by_vm"]), "devices_total": total,
                       "stats_submitted": st["total"]["submitted"],
                       "stats_completed": st["total"]["completed"], "units_requests": units,
                       "mismatches": mismatches[:10]}
    r["unit_busy_us"] = sum(u["busy_us"] for u in st["units"])
    if r.get("load_seconds"):
        r["unit_busy_fraction"] = r["unit_busy_us"] / (r["load_seconds"] * 1e6)
    with open(result_path, "w") as f:
        json.dump(r, f)
    print("accounting: %s: %d VMs, %d requests by the devices' counts; vgpuctl stats: "
          "submitted %d, completed %d, the units ran %d" % (
              "exact" if exact else "NOT EXACT", len(r["completed_by_vm"]), total,
              st["total"]["submitted"], st["total"]["completed"], units))
    for m in mismatches[:10]:
        print("  vm %d: device %d, stats %s" % (m["vm_id"], m["device"], m["stats"]))
    return 0 if exact else 1


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                                 "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "date": datetime.date.today().isoformat(), "commit": commit,
            "load_average": os.getloadavg()}


def verdict(met):
    return "met" if met else "NOT MET"


def median_rounds(runs, key="devices"):
    """Per device count (or other key), the round of median throughput, with every round's rate."""
    by_n = {}
    for r in runs:
        by_n.setdefault(r[key], []).append(r)
    points = []
    for n in sorted(by_n):
        rounds = sorted(by_n[n], key=lambda r: r["throughput_rps"])
        p = dict(rounds[(len(rounds) - 1) // 2])
        p["rounds_rps"] = [r["throughput_rps"] for r in rounds]
        p["rounds_exact"] = all(r.get("accounting", {}).get("exact") for r in rounds)
        points.append(p)
    return points


def report_scale(points, window, lines):
    print("%7s %11s %15s %9s %9s %9s %13s %11s %9s %9s %15s %10s" % (
        "devices", "requests/s", "rounds' range", "p50 us", "p99 us", "p99.9 us", "mediator CPU",
        "client CPU", "RSS/VM B", "unit busy", "fair min/max", "accounting"))
    for p in points:
        print("%7d %11.0f %7.0f-%-7.0f %9.1f %9.1f %9.1f %10.2f us %8.2f us %9.0f %8.0f%% "
              "%7d/%-7d %10s" % (
            p["devices"], p["throughput_rps"], min(p["rounds_rps"]), max(p["rounds_rps"]),
            p["latency_us"]["p50"], p["latency_us"]["p99"],
            p["latency_us"]["p999"], p.get("mediator_cpu_us_per_request", 0),
            p.get("client_cpu_us_per_request", 0),
            p.get("rss_per_vm_bytes", 0), 100 * p.get("unit_busy_fraction", 0),
            p["fairness"]["min"], p["fairness"]["max"],
            "exact" if p["rounds_exact"] else "NOT EXACT"))
    goals = {}
    peak = max(points, key=lambda p: p["throughput_rps"])
    after = [p for p in points if p["devices"] >= peak["devices"]]
    worst = min(after, key=lambda p: p["throughput_rps"])
    ratio = worst["throughput_rps"] / peak["throughput_rps"]
    goals["no_collapse"] = {"met": ratio >= COLLAPSE_GOAL, "peak_devices": peak["devices"],
                            "peak_rps": peak["throughput_rps"], "worst_devices": worst["devices"],
                            "worst_rps": worst["throughput_rps"], "ratio": ratio}
    lines.append("goal     no collapse up to %d devices: the lowest throughput from the peak on "
                 "is %.0f/s at %d = %.2f of the peak %.0f/s at %d (goal >= %.2f): %s" % (
                     points[-1]["devices"], worst["throughput_rps"], worst["devices"], ratio,
                     peak["throughput_rps"], peak["devices"], COLLAPSE_GOAL,
                     verdict(ratio >= COLLAPSE_GOAL)))
    big = points[-1]
    per_vm = big.get("rss_per_vm_bytes")
    if per_vm is not None:
        goals["memory_per_vm"] = {"met": per_vm <= MEMORY_GOAL, "bytes": per_vm,
                                  "vms": big["devices"]}
        lines.append("goal     memory per VM (RSS with %d VMs registered and connected, less the "
                     "RSS before, / %d): %.0f bytes (goal <= %d): %s" % (
                         big["devices"], big["devices"], per_vm, MEMORY_GOAL,
                         verdict(per_vm <= MEMORY_GOAL)))
    runs = sum(len(p["rounds_rps"]) for p in points) + (1 if window else 0)
    exact = all(p["rounds_exact"] for p in points) and (
        not window or window.get("accounting", {}).get("exact"))
    goals["accounting"] = {"met": bool(exact)}
    lines.append("goal     exact accounting: every device's count equals its VM's in vgpuctl "
                 "stats, and the totals their sum, in all %d runs: %s" % (runs, verdict(exact)))
    if window:
        mem = window["mediator_memory"]
        connected = (mem["connected"]["rss_kib"] - mem["base_rss_kib"]) * 1024 / window["devices"]
        touched = (mem["end"]["shmem_kib"] - mem["connected"]["shmem_kib"]) * 1024 / window["devices"]
        window["window_summary"] = {"rss_per_vm_connected": connected,
                                    "shmem_per_vm_after_ops": touched}
        lines.append("window   %d VMs with a %d KiB window each: %.0f bytes resident per VM "
                     "once connected (the mapping alone); after ADD_F32 over %d KiB of it, "
                     "%.0f bytes more per VM of shared memory (the VM's own pages, not a copy)" % (
                         window["devices"], 1024, connected, 3 * window["count"] * 4 // 1024,
                         touched))
    return goals


def report_isolation(iso, lines):
    a, l, op = iso["alone_us"], iso["loaded_us"], iso["low_exec_us"]
    goal = a["p99"] + op["p50"]
    print("%-28s %8s %10s %10s %10s" % ("high-priority VM", "requests", "p50 us", "p99 us",
                                         "p99.9 us"))
    print("%-28s %8d %10.1f %10.1f %10.1f" % ("alone", a["count"], a["p50"], a["p99"], a["p999"]))
    print("%-28s %8d %10.1f %10.1f %10.1f" % ("beside %d low VMs" % iso["low_vms"], l["count"],
                                               l["p50"], l["p99"], l["p999"]))
    what = ("ADD_F32 of %d elements" % iso["low_count"] if iso["low_op"] == "ADD_F32"
            else "VECTOR_ADD, the pool's service time")
    print("%-28s %8d %10.1f %10.1f %10.1f  (backend time: %s)" % (
        "one low request", op["count"], op["p50"], op["p99"], op["p999"], what))
    lines.append("goal     isolation: high VM's p99 beside the low VMs %.1f us <= p99 alone %.1f "
                 "+ one low request %.1f us = %.1f us: %s (p99 ratio %.2fx, p50 ratio %.2fx)" % (
                     l["p99"], a["p99"], op["p50"], goal, verdict(l["p99"] <= goal),
                     l["p99"] / a["p99"], l["p50"] / a["p50"]))
    exact = iso.get("accounting", {}).get("exact")
    lines.append("goal     isolation run's accounting exact: %s" % verdict(exact))
    return {"isolation": {"met": l["p99"] <= goal, "goal_us": goal,
                          "p99_ratio": l["p99"] / a["p99"], "p50_ratio": l["p50"] / a["p50"]},
            "isolation_accounting": {"met": bool(exact)}}


def report_depth(runs, lines):
    """in-flight=1 (one request at a time, as before) against the others, same run."""
    points = median_rounds(runs, "in_flight")
    print("%9s %11s %15s %9s %9s %9s %10s" % ("in-flight", "requests/s", "rounds' range",
                                             "p50 us", "p99 us", "unit busy", "accounting"))
    for p in points:
        print("%9d %11.0f %7.0f-%-7.0f %9.1f %9.1f %8.0f%% %10s" % (
            p["in_flight"], p["throughput_rps"], min(p["rounds_rps"]), max(p["rounds_rps"]),
            p["latency_us"]["p50"], p["latency_us"]["p99"], 100 * p.get("unit_busy_fraction", 0),
            "exact" if p["rounds_exact"] else "NOT EXACT"))
    one = next((p for p in points if p["in_flight"] == 1), None)
    exact = all(p["rounds_exact"] for p in points)
    goals = {"depth_accounting": {"met": exact}, "depth": {"met": False, "settings": []}}
    for p in points:
        if not one or p is one:
            continue
        busy = p.get("unit_busy_fraction", 0)
        speedup = p["throughput_rps"] / one["throughput_rps"]
        met = busy >= BUSY_GOAL and speedup >= DEPTH_SPEEDUP_GOAL
        goals["depth"]["settings"].append({"in_flight": p["in_flight"], "met": met,
                                           "busy_fraction": busy, "speedup": speedup})
        goals["depth"]["met"] |= met
        lines.append("goal     keep a busy GPU busy, in-flight=%d: unit busy %.0f%% (goal >= %.0f%%), "
                     "%.0f requests/s = %.2fx in-flight=1's %.0f/s (goal >= %.1fx): %s" % (
                         p["in_flight"], 100 * busy, 100 * BUSY_GOAL, p["throughput_rps"],
                         speedup, one["throughput_rps"], DEPTH_SPEEDUP_GOAL, verdict(met)))
    if not goals["depth"]["settings"]:
        lines.append("goal     keep a busy GPU busy: not measured (in-flight=1 and another setting "
                     "are needed)")
    return points, goals


def report(out, backend):
    points = median_rounds([load(p) for p in glob.glob(os.path.join(out, "scale-*.json"))])
    paths = {k: os.path.join(out, k + ".json") for k in ("window-memory", "isolation", "old-design")}
    extra = {k: load(p) for k, p in paths.items() if os.path.exists(p)}
    summary = {"machine": machine(), "backend": backend, "scale": points, "goals": {}}
    summary.update(extra)
    lines = []
    m = summary["machine"]
    print("machine: %s, %d CPU(s), %s, %s, load average %.1f" % (
        m["cpu"], m["cpus"], m["kernel"], m["date"], m["load_average"][0]))
    if points:
        print("== many devices, one VECTOR_ADD in flight each, %s backend, one unit; per count "
              "the round of median throughput out of %d" % (backend, len(points[0]["rounds_rps"])))
        summary["goals"].update(report_scale(points, extra.get("window-memory"), lines))
        with open(os.path.join(out, "scale.dat"), "w") as f:
            f.write("# devices requests/s p50 p99 p99.9 cpu_us_per_request rss_per_vm_bytes "
                    "rounds_min_rps rounds_max_rps\n")
            for p in points:
                f.write("%d %.1f %.2f %.2f %.2f %.3f %.0f %.1f %.1f\n" % (
                    p["devices"], p["throughput_rps"], p["latency_us"]["p50"],
                    p["latency_us"]["p99"], p["latency_us"]["p999"],
                    p.get("mediator_cpu_us_per_request", 0), p.get("rss_per_vm_bytes", 0),
                    min(p["rounds_rps"]), max(p["rounds_rps"])))
    iso = extra.get("isolation")
    if iso:
        print("== priority isolation: one high VM at %.0f requests/s, %d blocks of %.0f s alone "
              "and beside %d low VMs, alternating" % (iso["rate"], iso["blocks"],
                                                      iso["block_seconds"], iso["low_vms"]))
        summary["goals"].update(report_isolation(iso, lines))
        with open(os.path.join(out, "isolation.dat"), "w") as f:
            f.write("# case p50 p99 p99.9 (us)\n")
            for name, h in (("alone", iso["alone_us"]),
                            ("beside %d low VMs" % iso["low_vms"], iso["loaded_us"])):
                f.write("\"%s\" %.2f %.2f %.2f\n" % (name, h["p50"], h["p99"], h["p999"]))
        with open(os.path.join(out, "isolation-goal.dat"), "w") as f:
            f.write("%.2f\n" % summary["goals"]["isolation"]["goal_us"])
    depth_runs = []
    for path in glob.glob(os.path.join(out, "depth-*-*.json")):
        r = load(path)
        r["in_flight"] = int(os.path.basename(path).split("-")[1])
        depth_runs.append(r)
    if depth_runs:
        print("== a busy unit kept busy: %d devices, one VECTOR_ADD in flight each, the unit's "
              "in-flight= setting; per setting the round of median throughput" %
              depth_runs[0]["devices"])
        depth_points, goals = report_depth(depth_runs, lines)
        summary["depth"] = depth_points
        summary["goals"].update(goals)
        with open(os.path.join(out, "depth.dat"), "w") as f:
            f.write("# in_flight requests/s p50 p99 unit_busy_fraction\n")
            for p in depth_points:
                f.write("%d %.1f %.2f %.2f %.3f\n" % (
                    p["in_flight"], p["throughput_rps"], p["latency_us"]["p50"],
                    p["latency_us"]["p99"], p.get("unit_busy_fraction", 0)))
    old = extra.get("old-design")
    if old and points:
        new = points[0]
        ratio = old["p50_ms"] * 1000 / new["latency_us"]["p50"]
        summary["goals"]["old_design"] = {"speedup_p50": ratio}
        print("== the old design against the current path (one device, one request at a time)")
        print("old design (files, 1 s scan, 100 ms poll): p50 %.1f ms, mean %.1f ms, %.1f-%.1f ms "
              "(%d requests)" % (old["p50_ms"], old["mean_ms"], old["min_ms"], old["max_ms"],
                                 old["requests"]))
        print("current path (wire protocol, mediator):    p50 %.1f us with %d device(s)" % (
            new["latency_us"]["p50"], new["devices"]))
        lines.append("ratio    old design p50 / current p50 = %.1f ms / %.1f us = %.0fx faster" % (
            old["p50_ms"], new["latency_us"]["p50"], ratio))
    for line in lines:
        print(line)
    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("results: %s" % os.path.join(out, "bench.json"))
    # a goal missed is a result; a count that does not add up is a failure
    return 0 if all(summary["goals"].get(k, {}).get("met", True)
                    for k in ("accounting", "isolation_accounting", "depth_accounting")) else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "account":
        sys.exit(account(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "report":
        sys.exit(report(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
