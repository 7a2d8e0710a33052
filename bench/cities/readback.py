#!/usr/bin/env python3
"""Reads a bench/cities run back and checks what the fleet says (see bench/cities/run).

Per city and minute: p10 and p95 of Total as Prometheus reads them (histogram_quantile over
the minute's increase of perftest's phase histogram), the same from the city's own rows
(nearest rank, as perftest computes), and moto's SampleCount, Minimum and Maximum of RespTime
(moto computes no percentiles). Each city's floor is three round trips (TCP, the TLS 1.3
handshake, the request), the round trip as its delayer actually held it. The alerts: which
fired, when (Prometheus's ALERTS series). Writes results.md and results.json into --out; exits
1 if a check failed.
"""

import argparse
import datetime as dt
import json
import math
import os
import sys
import urllib.parse
import urllib.request

import boto3


def prom(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=60) as r:
        v = json.load(r)
    assert v["status"] == "success", v
    return v["data"]["result"]


def nearest_rank(values, p):
    v = sorted(values)
    k = min(max(math.ceil(p / 100 * len(v)), 1), len(v))
    return v[k - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--outage", required=True)
    ap.add_argument("--cities", required=True, help="'Name,CC RTT;...'")
    a = ap.parse_args()

    cities = []
    for c in filter(None, a.cities.split(";")):
        name, rtt = c.rsplit(" ", 1)
        cities.append((name, float(rtt), name.split(",")[0].lower()))
    events = {}
    for line in open(os.path.join(a.out, "events")):
        k, t = line.split()
        events[k] = float(t)
    start, stop = events["start"], events["stop"]
    minutes = int((stop - start) // 60)
    spike = (int((events["spike-start"] - start) // 60), int(round((events["spike-end"] - start) / 60)))
    outage = (int((events["outage-start"] - start) // 60), int(round((events["outage-end"] - start) / 60)))

    # The round trip each delayer held: twice its median one-way hold.
    held = {}
    for name, rtt, s in cities:
        try:
            st = json.load(open(os.path.join(a.out, f"{s}.nfqdelay.json")))
            held[name] = 2 * st["hold_us_p50"] / 1000
        except (OSError, KeyError, ValueError):
            held[name] = rtt
    # The target's own time: the reference namespace's p10 (no delay) over the run.
    own = []
    for line in open(os.path.join(a.out, "reference.jsonl")):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "timestamp" in r and not r.get("error"):
            own.append(r["total"])
    base = nearest_rank(own, 10) if own else 0.0
    floor = {name: base + 3 * held[name] for name, _, _ in cities}

    # Rows: what each city printed.
    rows, printed_ok = {}, {}
    for name, _, s in cities:
        per = [[] for _ in range(minutes)]
        failed = [0] * minutes
        ok_all = 0
        for line in open(os.path.join(a.out, f"{s}.jsonl")):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if "timestamp" not in r:
                continue
            ok_all += not (r.get("error") or r.get("http", 500) >= 400)
            m = int((r["timestamp"] - math.floor(start)) // 60)
            if not 0 <= m < minutes:
                continue
            if r.get("error") or r.get("http", 500) >= 400:
                failed[m] += 1
            else:
                per[m].append(r["total"])
        rows[name] = (per, failed)
        printed_ok[name] = ok_all

    # Prometheus, two ways, at each minute's end. "naive": histogram_quantile over the minute's
    # increase(), as a dashboard asks (each series' boundaries are decided once and kept, so
    # this is the reading that counts). "diff": the buckets' counts at the minute's end less
    # those at its start, only for boundaries pushed at both (a sample within 20 s): the
    # cross-check that showed boundaries moving when they did (src/publish/histogram.rs).
    sel = f'perftest_phase_duration_seconds_bucket{{phase="total",target="{a.url}"}}'
    fresh_now = f"{sel} and on (le, location) (time() - timestamp({sel}) < 20)"
    fresh_then = f"{sel} offset 60s and on (le, location) (time() - 60 - timestamp({sel} offset 60s) < 20)"
    queries = {
        "naive": lambda q: f"histogram_quantile({q}, sum by (le, location) (increase({sel}[60s])))",
        "diff": lambda q: f"histogram_quantile({q}, sum by (le, location) ({fresh_now}) - sum by (le, location) ({fresh_then}))",
    }
    read = {way: {q: {} for q in (10, 95)} for way in queries}
    for way, query in queries.items():
        for q in (10, 95):
            for m in range(minutes):
                t = start + 60 * (m + 1)
                # The first minute has nothing before it: its counts are the cumulative ones.
                promql = query(q / 100) if m or way == "naive" else (
                    f"histogram_quantile({q / 100}, sum by (le, location) ({fresh_now}))")
                for r in prom(a.prometheus, "/api/v1/query", time=f"{t:.3f}", query=promql):
                    v = float(r["value"][1])
                    read[way][q].setdefault(r["metric"]["location"], {})[m] = v * 1000 if math.isfinite(v) else None
    pq = read["naive"]
    # Every sample's moment and Total, per city, for the 5-minute windows of the rules.
    stamped = {}
    for name, _, s in cities:
        for line in open(os.path.join(a.out, f"{s}.jsonl")):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if "timestamp" in r and not (r.get("error") or r.get("http", 500) >= 400):
                stamped.setdefault(name, []).append((r["timestamp"], r["total"]))
    # The recording rule the alerts compare (p95 over 5 minutes), at each minute's end from the
    # slowdown's first to five minutes after its last, beside the rows' p95 over the same 5
    # minutes.
    rule_minutes = list(range(spike[0] + 1, min(spike[1] + 6, minutes + 1)))
    rule = {}
    for m in rule_minutes:
        t = start + 60 * m
        for r in prom(a.prometheus, "/api/v1/query", time=f"{t:.3f}",
                      query=f'target_location:perftest_total_seconds:p95_5m{{target="{a.url}"}}'):
            v = float(r["value"][1])
            rule.setdefault(r["metric"]["location"], {})[m] = v * 1000 if math.isfinite(v) else None

    # moto: RespTime per minute per city, code 200, and over the whole run.
    cw = boto3.client("cloudwatch", endpoint_url=a.moto, region_name="us-west-2",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    moto, moto_total = {}, {}
    for name, _, _ in cities:
        dims = [{"Name": "TestUrl", "Value": a.url}, {"Name": "HTTP Resp Code", "Value": "200"},
                {"Name": "FromLocation", "Value": name}]
        got = cw.get_metric_statistics(
            Namespace="Http Perf Demo", MetricName="RespTime", Dimensions=dims,
            StartTime=dt.datetime.fromtimestamp(start, dt.timezone.utc),
            EndTime=dt.datetime.fromtimestamp(start + 60 * minutes, dt.timezone.utc),
            Period=60, Statistics=["SampleCount", "Minimum", "Maximum"])["Datapoints"]
        moto[name] = {int((p["Timestamp"].timestamp() - start + 1) // 60): p for p in got}
        whole = cw.get_metric_statistics(
            Namespace="Http Perf Demo", MetricName="RespTime", Dimensions=dims,
            StartTime=dt.datetime.fromtimestamp(start - 3600, dt.timezone.utc),
            EndTime=dt.datetime.fromtimestamp(stop + 3600, dt.timezone.utc),
            Period=3 * 3600, Statistics=["SampleCount"])["Datapoints"]
        moto_total[name] = sum(int(p["SampleCount"]) for p in whole)

    # Alerts over the run, every 15 s.
    fired = {}
    res = prom(a.prometheus, "/api/v1/query_range", query="ALERTS", start=f"{start:.0f}",
               end=f"{stop + 60:.0f}", step="15")
    for r in res:
        m = r["metric"]
        key = (m["alertname"], m.get("alertstate"), m.get("location", ""))
        ts = [float(p[0]) for p in r["values"]]
        f = fired.setdefault(key, [math.inf, -math.inf])
        f[0], f[1] = min(f[0], min(ts)), max(f[1], max(ts))

    checks = []

    def check(ok, what):
        checks.append((bool(ok), what))

    for name, _, _ in cities:
        quiet = [m for m in range(minutes) if not (name == a.outage and outage[0] <= m < outage[1])]
        p10s = [pq[10].get(name, {}).get(m) for m in quiet]
        bad = [(m, v) for m, v in zip(quiet, p10s) if v is None or abs(v / floor[name] - 1) > 0.05]
        check(not bad, f"{name}: p10 within 5% of its floor {floor[name]:.1f} ms in every minute"
              + (f" (not in minutes {', '.join(f'{m}: {v}' for m, v in bad)})" if bad else ""))
        spike95 = [pq[95].get(name, {}).get(m) or 0 for m in range(*spike)]
        check(min(spike95) > floor[name] + 1000,
              f"{name}: the slowdown in p95 ({', '.join(f'{v:.0f}' for v in spike95)} ms in minutes {spike[0]}-{spike[1] - 1})")
    many = "PerftestSlowFromManyLocations"
    f = fired.get((many, "firing", ""))
    check(f and events["spike-start"] <= f[0] <= events["spike-end"] + 6 * 60,
          f"{many} fired for the slowdown"
          + (f" (from minute {(f[0] - start) / 60:.1f} to {(f[1] - start) / 60:.1f})" if f else " (never)"))
    check(not f or f[1] < events["outage-start"],
          f"{many} not firing for {a.outage}'s outage (minutes {outage[0]}-{outage[1] - 1})")
    failing = [k for k in fired if k[0] == "PerftestFailingFromManyLocations"]
    check(not failing, "PerftestFailingFromManyLocations never pending nor firing" + (f" ({failing})" if failing else ""))
    # The outage city's failures: every one started while its namespace refused the target, or
    # was in flight when it began (rows carry whole seconds: two of slack), and no other city
    # failed.
    failures = {name: [] for name, _, _ in cities}
    for name, _, s in cities:
        for line in open(os.path.join(a.out, f"{s}.jsonl")):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if "timestamp" in r and (r.get("error") or r.get("http", 500) >= 400):
                failures[name].append(r["timestamp"])
    out_f = failures[a.outage]
    inside = [t for t in out_f if events["outage-start"] - 2 <= t <= events["outage-end"]]
    others = sum(len(v) for k, v in failures.items() if k != a.outage)
    check(len(out_f) > 30 and len(inside) == len(out_f) and others == 0,
          f"{a.outage}'s outage: {len(out_f)} failed samples, {len(inside)} of them inside it; {others} elsewhere")

    # Tables.
    def cell(v):
        return "" if v is None else f"{v:.1f}"

    md = []
    md.append(f"The target's own time (p10 of {len(own)} samples with no delay, from ptcity-reference): {base:.2f} ms; "
              "each city's floor is that plus three round trips as its delayer held them.")
    md.append("")
    md.append("| city | round trip (held) ms | floor ms | p10 ms, Prometheus (min-max over minutes) | p10 ms, rows | p95 ms quiet (median minute) | p95 ms in the slowdown (max) | samples (failed) | in moto (code 200) of printed |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rtt, _ in cities:
        per, failed = rows[name]
        ok = [m for m in range(minutes) if per[m] and not (name == a.outage and outage[0] <= m < outage[1])]
        p10p = [pq[10].get(name, {}).get(m) for m in ok]
        p10p = [v for v in p10p if v is not None]
        p10r = [nearest_rank(per[m], 10) for m in ok]
        quiet95 = sorted(v for m, v in pq[95].get(name, {}).items()
                         if v is not None and not spike[0] <= m < spike[1] + 5)
        sp95 = max((pq[95].get(name, {}).get(m) or 0) for m in range(*spike))
        n = sum(len(p) for p in per)
        mc = f"{moto_total[name]} of {printed_ok[name]}"
        def span(v):
            return f"{min(v):.1f}-{max(v):.1f}" if v else "none"

        md.append(f"| {name} | {rtt:.0f} ({held[name]:.2f}) | {floor[name]:.1f} | {span(p10p)} | {span(p10r)} | "
                  f"{quiet95[len(quiet95) // 2] if quiet95 else float('nan'):.1f} | "
                  f"{sp95:.0f} | {n + sum(failed)} ({sum(failed)}) | {mc} |")
    for q in (95, 10):
        md.append("")
        md.append(f"p{q} of Total per city per minute, ms: Prometheus (`histogram_quantile({q / 100}, sum by (le, location) "
                  f"(increase(...[60s])))`) / the city's rows (nearest rank); [diff: the buckets' counts at the minute's ends, "
                  f"boundaries pushed at both, where that differs from the first by more than 1%]"
                  + ("; moto's Minimum and Maximum after them" if q == 10 else ""))
        md.append("")
        md.append("| minute | " + " | ".join(n for n, _, _ in cities) + " |")
        md.append("|---:|" + "---:|" * len(cities))
        for m in range(minutes):
            tag = " (slowdown)" if spike[0] <= m < spike[1] else (f" ({a.outage} out)" if outage[0] <= m < outage[1] else "")
            cells = []
            for name, _, _ in cities:
                per, _ = rows[name]
                r = nearest_rank(per[m], q) if per[m] else None
                c = f"{cell(pq[q].get(name, {}).get(m))} / {cell(r)}"
                naive, diff = read["naive"][q].get(name, {}).get(m), read["diff"][q].get(name, {}).get(m)
                if naive and diff is not None and abs(diff / naive - 1) > 0.01:
                    c += f" [diff {diff:.0f}]"
                if q == 10 and m in moto[name]:
                    c += f" ({moto[name][m]['Minimum']:.0f}-{moto[name][m]['Maximum']:.0f})"
                cells.append(c)
            md.append(f"| {m}{tag} | " + " | ".join(cells) + " |")
    md.append("")
    md.append("The recording rule the alerts compare, `target_location:perftest_total_seconds:p95_5m` (p95 over "
              "5 minutes), at each minute's end, ms / the city's rows over the same 5 minutes (nearest rank):")
    md.append("")
    md.append("| minute's end | " + " | ".join(n for n, _, _ in cities) + " |")
    md.append("|---:|" + "---:|" * len(cities))
    for m in rule_minutes:
        # Rows carry whole seconds: minutes counted from the start's, as the tables above.
        lo, hi = math.floor(start) + 60 * (m - 5), math.floor(start) + 60 * m
        cells = []
        for name, _, _ in cities:
            window = [v for ts, v in stamped.get(name, []) if lo <= ts < hi]
            r = nearest_rank(window, 95) if window else None
            cells.append(f"{cell(rule.get(name, {}).get(m))} / {cell(r)}")
        md.append(f"| {m} | " + " | ".join(cells) + " |")
    md.append("")
    md.append("Alerts (Prometheus's ALERTS series, every 15 s), minutes from the start:")
    md.append("")
    md.append("| alert | state | location | from | to |")
    md.append("|---|---|---|---:|---:|")
    for (name, state, loc), (t0, t1) in sorted(fired.items(), key=lambda kv: kv[1][0]):
        md.append(f"| {name} | {state} | {loc} | {(t0 - start) / 60:.1f} | {(t1 - start) / 60:.1f} |")
    md.append("")
    for ok, what in checks:
        md.append(f"- {'✓' if ok else '✗'} {what}")
    text = "\n".join(md) + "\n"
    open(os.path.join(a.out, "results.md"), "w").write(text)
    json.dump({"prometheus": {w: {str(q): read[w][q] for q in read[w]} for w in read}, "rule_p95_5m": rule, "floor": floor, "held": held, "base": base, "events": events,
               "alerts": [list(k) + v for k, v in fired.items()]},
              open(os.path.join(a.out, "results.json"), "w"), indent=1)
    sys.stdout.write(text)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
