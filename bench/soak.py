"""bench/soak's two halves (run inside the bed's namespace, with .venv-test's Python).

watch:  while perftest runs, scrape /metrics every --scrape-every seconds and check, target by
        target, that the samples it counts lie between the rows printed before the scrape and
        the rows printed after it (stdout is flushed line by line, so nothing printed may be
        missing from /metrics, and nothing may be counted that is never printed); every
        --sample-every seconds record resident memory, threads and open descriptors (/proc) and
        the Lua heap and allocator figures (/memstats).
report: after perftest has stopped (and flushed CloudWatch): every target's printed rows
        against moto's SampleCount of RespTime for that TestUrl; the memory table, the verdict
        and a plot (gnuplot, if installed).
"""

import argparse
import collections
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

MIB = 1048576.0


def target_label(url):
    """perftest's `target` label (publish/metrics.rs): no query string, fragment or user."""
    base = url.split("?")[0].split("#")[0]
    scheme, sep, rest = base.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if sep else base


def resp_code(r):
    """The classic CloudWatch dimension HTTP Resp Code: 500 for a failed sample."""
    return "500" if r["error"] else f"{r['status']:03d}"


class Rows:
    """The rows perftest printed (JSON lines), counted per URL as the file grows."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.by_label = collections.Counter()
        self.by_dims = collections.Counter()
        self.kinds = collections.defaultdict(collections.Counter)

    def update(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.by_label
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if not line.startswith(b'{"type":"sample"'):
                continue  # the summaries at the end
            r = json.loads(line)
            self.by_label[target_label(r["url"])] += 1
            self.by_dims[(r["url"], resp_code(r))] += 1
            self.kinds[r["url"]][r["error_kind"] or str(r["status"])] += 1
        return self.by_label


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def probes_in_metrics(text):
    counts = collections.Counter()
    series = 0
    for fam in text_string_to_metric_families(text):
        series += len(fam.samples)
        if fam.name == "perftest_probes":
            for s in fam.samples:
                if s.name == "perftest_probes_total":
                    counts[s.labels["target"]] += int(s.value)
    return counts, series


def proc(pid):
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.split()
    sockets = other = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed while listed
        if link.startswith("socket:"):
            sockets += 1
        else:
            other += 1
    return {"rss_kib": int(st["VmRSS"][0]), "threads": int(st["Threads"][0]), "fds": sockets + other,
            "sockets": sockets, "other_fds": other}


def watch(a):
    rows = Rows(os.path.join(a.out, "rows.jsonl"))
    deadline = time.monotonic() + 60
    while True:
        try:
            get(a.metrics + "/healthz", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or not os.path.exists(f"/proc/{a.pid}"):
                sys.exit(f"soak: perftest's /healthz did not answer in 60 s: {open(os.path.join(a.out, 'stderr.txt')).read()[-2000:]}")
            time.sleep(0.2)
    start = time.monotonic()
    wall = time.time()
    json.dump({"start": wall, "seconds": a.seconds}, open(os.path.join(a.out, "run.json"), "w"))
    samples = open(os.path.join(a.out, "samples.tsv"), "w")
    samples.write("t_s\trss_kib\tfds\tsockets\tother_fds\tthreads\tlua_bytes\theap_in_use_bytes\theap_free_bytes\tprobes_done\tseries\thist_bytes\n")
    scrapes = open(os.path.join(a.out, "scrapes.tsv"), "w")
    scrapes.write("t_s\trows_before\tin_metrics\trows_after\ttargets_outside\n")
    series = 0
    next_scrape = next_sample = 0.0
    bad_total = 0
    while True:
        now = time.monotonic() - start
        if now >= next_scrape:
            before = dict(rows.update())
            counts, series = probes_in_metrics(get(a.metrics + "/metrics"))
            after = rows.update()
            bad = [u for u in set(counts) | set(after) if not before.get(u, 0) <= counts.get(u, 0) <= after.get(u, 0)]
            for u in bad:
                print(f"soak: {u}: printed {before.get(u, 0)}..{after.get(u, 0)} rows, /metrics counts {counts.get(u, 0)}", file=sys.stderr)
            bad_total += len(bad)
            scrapes.write(f"{now:.1f}\t{sum(before.values())}\t{sum(counts.values())}\t{sum(after.values())}\t{len(bad)}\n")
            scrapes.flush()
            next_scrape += a.scrape_every
        if now >= next_sample:
            p = proc(a.pid)
            m = json.loads(get(a.metrics + "/memstats?format=json"))
            samples.write(f"{now:.1f}\t{p['rss_kib']}\t{p['fds']}\t{p['sockets']}\t{p['other_fds']}\t{p['threads']}\t{m['lua_bytes']}\t"
                          f"{m['process'].get('heap_in_use_bytes', 0)}\t{m['process'].get('heap_free_bytes', 0)}\t"
                          f"{m['probes_done']}\t{series}\t{m.get('stats_histogram_bytes', 0)}\n")
            samples.flush()
            print(f"[{time.strftime('%H:%M:%S')}] soak {now / 60:5.1f} min: rss {p['rss_kib'] / 1024:.2f} MiB, "
                  f"fds {p['fds']}, threads {p['threads']}, lua {m['lua_bytes'] / 1024:.0f} KiB, "
                  f"histograms {m.get('stats_histogram_bytes', 0) / 1024:.0f} KiB, "
                  f"probes {m['probes_done']}, rows {sum(rows.by_label.values())}", file=sys.stderr, flush=True)
            next_sample += a.sample_every
        if now >= a.seconds:
            break
        time.sleep(max(0.0, min(next_scrape, next_sample) - (time.monotonic() - start)))
    json.dump({"start": wall, "seconds": a.seconds, "scrape_mismatches": bad_total},
              open(os.path.join(a.out, "run.json"), "w"))


def moto_counts(endpoint, keys, location, start, end):
    """SampleCount of RespTime for each (TestUrl, HTTP Resp Code) printed. moto's ListMetrics
    lists every datum (tens of thousands after an hour, seconds a page), so the dimension
    sets are the ones the rows say, each asked for by name."""
    import boto3
    import botocore.config
    cw = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-west-2",
                      aws_access_key_id="testing", aws_secret_access_key="testing",
                      config=botocore.config.Config(read_timeout=600, retries={"max_attempts": 1}))
    counts = collections.Counter()
    for url, code in keys:
        dims = [{"Name": "TestUrl", "Value": url}, {"Name": "HTTP Resp Code", "Value": code},
                {"Name": "FromLocation", "Value": location}]
        r = cw.get_metric_statistics(Namespace="Http Perf Demo", MetricName="RespTime", Dimensions=dims,
                                     StartTime=start, EndTime=end, Period=60, Statistics=["SampleCount"])
        counts[(url, code)] = int(sum(d["SampleCount"] for d in r["Datapoints"]))
    return counts


def fit(xs, ys):
    """Least-squares slope of ys over xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def report(a):
    run = json.load(open(os.path.join(a.out, "run.json")))
    rows = Rows(os.path.join(a.out, "rows.jsonl"))
    rows.update()
    printed = rows.by_dims
    start = datetime.datetime.fromtimestamp(run["start"] - 600, datetime.timezone.utc)
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    cache = os.path.join(a.out, "moto.json")
    t_moto = time.monotonic()
    if a.moto:
        moto = moto_counts(a.moto, sorted(printed), a.location, start, end)
        json.dump([[u, c, n] for (u, c), n in sorted(moto.items())], open(cache, "w"))
    else:  # the report again, from what moto said the first time
        moto = collections.Counter({(u, c): n for u, c, n in json.load(open(cache))})
    t_moto = time.monotonic() - t_moto
    lost = {k: (printed[k], moto[k]) for k in printed if printed[k] != moto[k]}

    cols = open(os.path.join(a.out, "samples.tsv")).readline().rstrip("\n").split("\t")
    data = [dict(zip(cols, map(float, line.split("\t")))) for line in open(os.path.join(a.out, "samples.tsv")).readlines()[1:]]
    t = [d["t_s"] for d in data]
    rss = [d["rss_kib"] / 1024 for d in data]
    # "the last 50 minutes" of an hour: the last 5/6 of a run of any length
    w0 = run["seconds"] / 6
    win = [i for i, x in enumerate(t) if x >= w0]
    growth_fit = fit([t[i] for i in win], [rss[i] for i in win]) * (t[win[-1]] - t[win[0]]) if len(win) > 1 else 0.0
    growth_ends = rss[win[-1]] - rss[win[0]] if win else 0.0
    fds = [int(d["fds"]) for d in data]
    sockets = [int(d["sockets"]) for d in data]
    other = [int(d["other_fds"]) for d in data]
    steady_other = [other[i] for i in win]
    span = t[win[-1]] - t[win[0]] if len(win) > 1 else 0.0
    socket_growth = fit([t[i] for i in win], [sockets[i] for i in win]) * span if len(win) > 1 else 0.0
    threads = [int(d["threads"]) for d in data]
    lua = [d["lua_bytes"] / 1024 for d in data]
    steady_threads = [threads[i] for i in win]

    kinds = collections.Counter()
    for u, k in rows.kinds.items():
        kinds.update(k)
    out = []
    out.append(f"{len(rows.kinds)} targets, {sum(printed.values())} rows printed over {run['seconds']:.0f} s "
               f"({sum(printed.values()) / run['seconds']:.1f} a second); outcomes: "
               + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])) + ".")
    out.append("")
    out.append("| minute | RSS MiB | open fds | sockets | other fds | threads | Lua heap KiB | malloc in use MiB | malloc free MiB | stats histograms KiB | probes done | /metrics samples |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in data:
        out.append(f"| {d['t_s'] / 60:.0f} | {d['rss_kib'] / 1024:.2f} | {d['fds']:.0f} | {d['sockets']:.0f} | {d['other_fds']:.0f} | {d['threads']:.0f} | "
                   f"{d['lua_bytes'] / 1024:.0f} | {d['heap_in_use_bytes'] / MIB:.2f} | {d['heap_free_bytes'] / MIB:.2f} | "
                   f"{d.get('hist_bytes', 0) / 1024:.0f} | "
                   f"{d['probes_done']:.0f} | {d['series']:.0f} |")
    out.append("")
    checks = [
        (f"RSS growth over the last {(t[-1] - t[win[0]]) / 60:.0f} minutes < 1 MiB", abs(growth_fit) < 1 and growth_ends < 1,
         f"least-squares {growth_fit:+.3f} MiB, end to end {growth_ends:+.3f} MiB ({rss[win[0]]:.2f} -> {rss[-1]:.2f})"),
        # Sockets come and go with the probes in flight at the instant of the sample; the rest
        # (the listener's, epoll, eventfds, files) must not change at all.
        # A probe holds at most two sockets at a time (its DNS query's and its connection):
        # more than that per target (and the listener's, the scrape's, CloudWatch's) would be
        # sockets left behind. The trend's bound is well above the sampling noise of 50 samples
        # (SD ~10) and well below one socket a minute.
        ("open fds constant", max(steady_other) == min(steady_other) and max(sockets) <= 2 * len(rows.kinds) + 10
         and abs(socket_growth) < 10,
         f"non-socket {min(steady_other)}..{max(steady_other)}; sockets (probes in flight) {min(sockets)}..{max(sockets)} "
         f"(at most {2 * len(rows.kinds) + 10}), "
         f"least-squares trend {socket_growth:+.1f} over the last {span / 60:.0f} minutes; all fds {min(fds)}..{max(fds)}"),
        ("threads constant", max(steady_threads) == min(steady_threads),
         f"{min(steady_threads)}..{max(steady_threads)} (all samples {min(threads)}..{max(threads)})"),
        ("every printed row counted in /metrics at every scrape", run.get("scrape_mismatches", 1) == 0,
         f"{sum(1 for _ in open(os.path.join(a.out, 'scrapes.tsv'))) - 1} scrapes, {run.get('scrape_mismatches')} target-scrapes outside [printed before, printed after]"),
        ("every printed row in moto", not lost,
         f"{sum(moto.values())} samples in moto, {sum(printed.values())} printed, in {len(printed)} (TestUrl, HTTP Resp Code) sets, "
         f"each asked for by name (in {t_moto:.0f} s)"
         + (f"; {len(lost)} differ (printed, moto): {dict(list(lost.items())[:5])}" if lost else "")),
    ]
    out.append("| check | pass | figures |")
    out.append("|---|---|---|")
    for name, ok, fig in checks:
        out.append(f"| {name} | {'yes' if ok else 'NO'} | {fig} |")
    out.append("")
    out.append(f"Lua heap: {min(lua):.0f}..{max(lua):.0f} KiB (last {lua[-1]:.0f}).")
    if win and "hist_bytes" in cols:
        hist = [d["hist_bytes"] / MIB for d in data]
        heap = [d["heap_in_use_bytes"] / MIB for d in data]
        out.append(f"Over the last {span / 60:.0f} minutes: statistics' histograms {hist[win[0]]:.3f} -> {hist[win[-1]]:.3f} MiB "
                   f"(least squares {fit([t[i] for i in win], [hist[i] for i in win]) * span:+.3f}); malloc in use "
                   f"{fit([t[i] for i in win], [heap[i] for i in win]) * span:+.3f} MiB least squares.")
    text = "\n".join(out) + "\n"
    open(os.path.join(a.out, "report.md"), "w").write(text)
    print(text)
    plot(a.out)
    return 0 if all(ok for _, ok, _ in checks) else 1


def plot(out):
    png = os.path.join(out, "soak.png")
    script = f"""
set terminal pngcairo size 1000,760 font ",10"
set output "{png}"
set datafile separator "\\t"
set key off
set grid
set xlabel "minutes"
set multiplot layout 2,2 title "perftest run monitor, 100 targets at -d 1 (bench/soak)"
set title "resident memory (MiB)"
plot "{out}/samples.tsv" skip 1 using ($1/60):($2/1024) with linespoints pt 7 ps 0.5
# Headroom above the lines for the legend, its text read from the left.
set key top left Left reverse
set offsets 0, 0, graph 0.3, 0
set yrange [0:*]
set title "open file descriptors"
plot "{out}/samples.tsv" skip 1 using ($1/60):4 with linespoints pt 7 ps 0.5 title "sockets (probes in flight)", \\
     "" skip 1 using ($1/60):5 with linespoints pt 7 ps 0.5 title "other"
set key off
set title "threads"
plot "{out}/samples.tsv" skip 1 using ($1/60):6 with linespoints pt 7 ps 0.5
set autoscale y
set key top left Left reverse
set yrange [0:*]
set title "Lua heap, malloc in use, statistics' histograms"
plot "{out}/samples.tsv" skip 1 using ($1/60):($7/1024) with linespoints pt 7 ps 0.5 title "Lua KiB", \\
     "" skip 1 using ($1/60):($8/10485.76) with linespoints pt 7 ps 0.5 title "malloc in use, MiB x 100", \\
     "" skip 1 using ($1/60):($12/1024) with linespoints pt 7 ps 0.5 title "histograms KiB"
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"soak: no plot ({e})", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--pid", type=int, required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--scrape-every", type=float, default=15)
    w.add_argument("--sample-every", type=float, default=60)
    w.add_argument("--metrics", required=True)
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--moto", help="moto's URL; without it, the counts it gave last time (moto.json)")
    r.add_argument("--location", required=True)
    a = ap.parse_args()
    if a.cmd == "watch":
        watch(a)
    else:
        sys.exit(report(a))


if __name__ == "__main__":
    main()
