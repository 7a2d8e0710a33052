#!/usr/bin/env python3
"""Turns bench/accuracy's raw samples and the bed's logs into the accuracy tables.

Truth per phase, from what the bed's daemons logged they applied during the run:
  DNS    the answer hold of each lookup: a lookup that asks A and AAAA in parallel (perftest,
         curl) waits for the slower answer, one that asks A only (blackbox, ip4) for that one;
         answers logged within 5 ms of each other belong to one lookup
  TCP    one round trip: twice the delayer's median one-way hold (0 on the near host)
  TLS    TLS 1.3 needs one round trip: twice the one-way hold
  First  the server's first-byte hold plus one round trip (request out, response back)
  LastB  the server's trickle hold (first and last chunk cross the same one-way delay)
"""
import argparse
import json
import os
import re
import statistics
import time

PHASES = ["DNS", "TCP", "TLS", "First", "LastB"]
KEYS = ["dns", "tcp", "tls", "first", "lastb"]
BEST_PEER_OVER_TRUTH = {"DNS": 0.7, "TCP": 0.5, "TLS": 1.9, "First": 0.9, "LastB": 1.0}
SECTION = "## Phase accuracy against injected delays"


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def perftest(path):
    """Per round: a dict of phases, or None when the sample failed."""
    out = []
    for line in open(path):
        r = json.loads(line) if line.strip() else {}
        out.append({p: r[k] for p, k in zip(PHASES, KEYS)} if r.get("http") == 200 else None)
    return out


def curl(path):
    out = []
    for line in open(path):
        f = line.split()
        if len(f) != 7 or f[6] != "200":
            out.append(None)
            continue
        nl, co, ap, pre, st, tot = (float(x) * 1000 for x in f[:6])
        tls = ap - co if ap > 0 else 0.0
        out.append(dict(zip(PHASES, [nl, co - nl, tls, st - pre, tot - st])))
    return out


def blackbox(path):
    names = {"resolve": "DNS", "connect": "TCP", "tls": "TLS", "processing": "First", "transfer": "LastB"}
    out = []
    for line in open(path):
        got = dict(re.findall(r'phase="(\w+)"} ([0-9.e+-]+)', line))
        out.append({p: float(got.get(k, 0)) * 1000 for k, p in names.items()} if len(got) >= 5 else None)
    return out


def dns_lookups(path):
    """Groups answers into lookups; returns (the pairs' slower holds, single holds) in ms."""
    answers = []
    for line in open(path):
        m = re.match(r"([0-9.]+) \w+ \S+ (A|AAAA) .*held_us=(\d+)", line)
        if m:
            answers.append((float(m.group(1)), float(m.group(3)) / 1000))
    groups = []
    for t, held in answers:
        if groups and t - groups[-1][-1][0] < 0.005:
            groups[-1].append((t, held))
        else:
            groups.append([(t, held)])
    pairs = [max(h for _, h in g) for g in groups if len(g) > 1]
    singles = [g[0][1] for g in groups if len(g) == 1]
    return pairs, singles


def truth(d, rtt_injected):
    def held(pat):
        return [float(m.group(1)) / 1000 for l in open(os.path.join(d, "slowsrv.log")) if (m := re.search(pat, l))]
    pairs, singles = dns_lookups(os.path.join(d, "dns.log"))
    nfq = json.load(open(os.path.join(d, "nfq.json")))
    rtt = 2 * nfq["hold_us_p50"] / 1000 if rtt_injected else 0.0
    t = {"DNS": statistics.median(pairs), "TCP": rtt, "TLS": rtt if rtt_injected else 0.0,
         "First": statistics.median(held(r"ttfb_held_us=(\d+)")) + rtt,
         "LastB": statistics.median(held(r"trickle_held_us=(\d+)"))}
    return t, (statistics.median(singles) if singles else None), nfq


def table(title, url, samples, d, rtt_injected, https):
    tools = {"perftest": perftest(os.path.join(d, "perftest.jsonl")),
             "curl -w": curl(os.path.join(d, "curl.txt")),
             "blackbox_exporter": blackbox(os.path.join(d, "blackbox.txt"))}
    t, a_only, nfq = truth(d, rtt_injected)
    phases = PHASES if https else [p for p in PHASES if p != "TLS"]
    lines = [f"### {title}", "", f"`{url}`", "",
             "| phase | truth | " + " | ".join(f"{n} | over" for n in tools) + " | best peer over truth in the bed's README |",
             "|---|---:|" + "---:|---:|" * len(tools) + "---:|"]
    for p in phases:
        cells = [p, f"{t[p]:.2f}"]
        for n, rows in tools.items():
            xs = [r[p] for r in rows if r]
            if not xs:
                cells += ["n/a", ""]
                continue
            m = statistics.median(xs)
            tp = a_only if (p == "DNS" and n == "blackbox_exporter" and a_only) else t[p]
            cells += [f"{m:.2f} [{pct(xs, .1):.2f}-{pct(xs, .9):.2f}]", f"{m - tp:+.2f}"]
        cells.append(f"+{BEST_PEER_OVER_TRUTH[p]}" if rtt_injected and https else "")
        lines.append("| " + " | ".join(cells) + " |")
    # Paired: the tools took turns, so round by round they met the same bed.
    paired = []
    for p in phases:
        ds = [a[p] - b[p] for a, b in zip(tools["perftest"], tools["curl -w"]) if a and b]
        if ds:
            paired.append(f"{p} {statistics.median(ds):+.2f} [{pct(ds, .25):+.2f} to {pct(ds, .75):+.2f}]")
    ok = ", ".join(f"{n} {sum(1 for r in rows if r)}/{samples}" for n, rows in tools.items())
    lines += ["", f"perftest minus curl, round by round (median [p25 to p75]): {'; '.join(paired)}.", "",
              f"Successful samples: {ok}." + (f" blackbox_exporter asks A only (ip4): its DNS is compared with "
                                             f"that answer's hold, {a_only:.2f} ms." if a_only else ""), ""]
    return lines, nfq


def main():
    ap = argparse.ArgumentParser()
    for a in ["out", "far", "near", "versions", "command", "results"]:
        ap.add_argument("--" + a, required=True)
    for a in ["samples", "rtt", "dns", "ttfb", "trickle"]:
        ap.add_argument("--" + a, type=float, required=True)
    a = ap.parse_args()
    n = int(a.samples)
    far, nfq = table(f"Far host, https: {a.rtt:g} ms round trip, DNS {a.dns:g} ms, first byte {a.ttfb:g} ms, "
                     f"body over {a.trickle:g} ms", a.far, n, os.path.join(a.out, "far"), True, True)
    near, _ = table(f"Near host, http: no injected round trip, DNS {a.dns:g} ms, first byte {a.ttfb:g} ms, "
                    f"body over {a.trickle:g} ms", a.near, n, os.path.join(a.out, "near"), False, False)
    lines = [SECTION, "",
             f"Command: `{a.command}`, run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
             f"{os.cpu_count()} cores ({os.uname().release}). Versions: {a.versions}.", "",
             "perftest, curl -w and blackbox_exporter take turns, one sample each, "
             f"{n} rounds per target, inside bench/testbed. Truth is what the bed's daemons logged they applied "
             f"(the delayer's median one-way hold was {nfq['hold_us_p50'] / 1000:.3f} ms, p99 "
             f"{nfq['hold_us_p99'] / 1000:.3f} ms). Figures are medians in ms with p10-p90 in brackets; "
             "'over' is the median minus the truth. How each tool's figures map to the phases: "
             "curl DNS = time_namelookup, TCP = time_connect - time_namelookup, TLS = time_appconnect - "
             "time_connect, First = time_starttransfer - time_pretransfer, LastB = time_total - "
             "time_starttransfer; blackbox resolve, connect, tls, processing, transfer.", ""] + far + near
    section = "\n".join(lines)
    text = open(a.results).read() if os.path.exists(a.results) else "# Benchmark results\n"
    start = text.find(SECTION)
    if start >= 0:
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(a.results, "w").write(text)
    print(section)


if __name__ == "__main__":
    main()
