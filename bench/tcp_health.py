"""Reads bench/tcp-health's rows and writes its section of bench/RESULTS.md (and prints it)."""
import argparse
import json
import os
import statistics
import time

START = "## TCP health from the socket (bench/tcp-health)"


def rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    for a in ("out", "url", "command", "results", "version", "kernel"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--rtt", type=float, required=True)
    ap.add_argument("--drop", type=float, required=True)
    ap.add_argument("--samples", type=int, required=True)
    a = ap.parse_args()

    clean = rows(os.path.join(a.out, "clean.jsonl"))
    lossy = rows(os.path.join(a.out, "lossy.jsonl"))
    nfq = json.load(open(os.path.join(a.out, "clean.nfq.json")))
    nfq_lossy = json.load(open(os.path.join(a.out, "lossy.nfq.json")))
    # The injected round trip: two one-way holds, as the delayer measured them.
    truth = 2 * nfq["hold_us_p50"] / 1000
    with_info = [r for r in clean if r.get("tcp_info")]
    rtt = [r["tcp_info"]["rtt"] for r in with_info]
    min_rtt = [r["tcp_info"]["min_rtt"] for r in with_info if "min_rtt" in r["tcp_info"]]
    tcp = [r["tcp"] for r in clean if r["error"] is None]
    clean_retrans = sum(1 for r in with_info if r["tcp_info"]["total_retrans"] > 0)
    rtt_ok = abs(med(rtt) - truth) <= 2.0

    got = [r for r in lossy if r.get("tcp_info")]
    hit = [r for r in got if r["tcp_info"]["total_retrans"] > 0]
    spared = [r for r in got if r["tcp_info"]["total_retrans"] == 0]
    failed = [r for r in lossy if r["error"] is not None]
    ok_spared = [r for r in spared if r["error"] is None]
    # Where a retransmission's cost fell: a phase well over its clean median (half a round
    # trip of slack) took the hit; a lost SYN waits the initial RTO (1 s), a lost data segment
    # an RTO of a few round trips.
    base = {k: med([r[k] for r in ok_spared]) for k in ("tcp", "first", "lastb", "total")}
    slow = {k: [r for r in hit if r["error"] is None and r[k] > base[k] + a.rtt / 2] for k in ("tcp", "first", "lastb")}
    loss_ok = len(hit) > 0
    unrecovered = sum(1 for r in got if r["tcp_info"]["retransmits"] > 0)

    def line(k):
        xs = [r[k] for r in slow[k]]
        if not xs:
            return f"| {k} | {base[k]:.2f} | 0 | | |"
        return f"| {k} | {base[k]:.2f} | {len(xs)} | {med(xs):.2f} | +{med(xs) - base[k]:.2f} |"

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = f"""{START}

Command: `{a.command}`, run {when} on {os.cpu_count()} cores ({a.kernel}). {a.version}. URL `{a.url}`
(nginx's 12 KiB page on the bed's far host, a new connection per sample, 0.1 s apart).

**Round trip, clean** ({len(with_info)}/{len(clean)} samples with `tcp_info`): the delayer held each
packet {nfq['hold_us_p50'] / 1000:.3f} ms one way (median of {nfq['packets']} packets), so the injected round trip
is {truth:.2f} ms. `tcp_info.rtt` median {med(rtt):.2f} ms [p10 {p(rtt, 0.1):.2f}, p90 {p(rtt, 0.9):.2f}],
`min_rtt` median {med(min_rtt):.2f} ms, TCP phase median {med(tcp):.2f} ms; off by {med(rtt) - truth:+.2f} ms
({'within' if rtt_ok else 'NOT within'} the 2 ms asked). Samples with a retransmission: {clean_retrans}.

**With {a.drop:g}% of the far host's packets dropped** (the delayer dropped {nfq_lossy.get('dropped', 0)} of
{nfq_lossy['packets'] + nfq_lossy.get('dropped', 0)}): `total_retrans` above 0 in {len(hit)} of {len(got)} samples
({'as expected' if loss_ok else 'NONE: the check fails'}), {len(failed)} samples failed. Where the
retransmission's cost showed, against the median of the samples without one (a phase counts as hit
when it is over that median by half a round trip):

| phase | median without retransmission, ms | samples hit | their median, ms | cost, ms |
|---|---:|---:|---:|---:|
{line('tcp')}
{line('first')}
{line('lastb')}

A lost SYN costs the TCP phase the initial retransmission timeout (1 s); a lost request or
response segment costs First one RTO, which the kernel bases on the measured round trip (200 ms
at least). `retransmits` (timeouts not yet recovered) was above 0 at the end of {unrecovered} samples.
"""
    print(text)
    with open(a.results) as f:
        old = f.read()
    if START in old:
        head, rest = old.split(START, 1)
        nxt = rest.find("\n## ")
        new = head + text.rstrip("\n") + ("\n" + rest[nxt:] if nxt >= 0 else "\n")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(a.results, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
