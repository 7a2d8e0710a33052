#!/usr/bin/env python3
"""bench/lua-loop's runs: a script's loop, the built-in load and wrk, alternating (see there)."""
import json
import os
import re
import statistics
import subprocess
import sys
import time

NS = os.environ.get("PTB_NS", "ptbench")
BIN = os.environ["PERFTEST_BIN"]
ROOT = os.environ["PERFTEST_ROOT"]
ROUNDS = int(os.environ.get("ROUNDS", "5"))
SECS = int(os.environ.get("SECS", "10"))
C = int(os.environ.get("C", "50"))
URL = os.environ.get("URL", "http://127.0.0.1:8080/page.html")
LOOP = os.path.join(ROOT, "bench", "lua_loop.lua")


def ns(cmd):
    return ["ip", "netns", "exec", NS] + cmd


def run(cmd):
    p = subprocess.run(ns(cmd), capture_output=True, text=True, timeout=SECS * 4 + 60)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    return p.stdout


def last_json(out):
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def load():
    cmd = [BIN, "run", "load", "-c", str(C), "-d", str(SECS), "--jsonl", "--no-progress", URL]
    v = last_json(run(cmd))
    return v["count"] / v["elapsed"], v["failed"], cmd


def loop(record):
    cmd = [BIN, "run", LOOP, URL, str(C), str(SECS), "new", "stats" if record else "count"]
    v = last_json(run(cmd))
    return v["count"] / v["elapsed"], v["failed"], cmd


def wrk():
    cmd = ["wrk", "-H", "Connection: close", "-t", "2", "-c", str(C), "-d", f"{SECS}s", URL]
    out = run(cmd)
    n = int(re.search(r"(\d+) requests in", out).group(1))
    secs = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return n / secs, sum(int(x) for x in errs.groups()) if errs else 0, cmd


WAYS = [
    ("`perftest run load -c 50`", load),
    ("script loop: 50 tasks on perftest.probe", lambda: loop(False)),
    ("script loop with a stats:add per sample", lambda: loop(True)),
    ("wrk -c 50, `Connection: close`", wrk),
]


def main():
    rates = {name: [] for name, _ in WAYS}
    cmds = {}
    for i in range(ROUNDS):
        for name, fn in WAYS:
            rate, failed, cmd = fn()
            rates[name].append(rate)
            cmds[name] = cmd
            print(f"[{time.strftime('%H:%M:%S')}] round {i + 1} {name}: {rate:,.0f}/s, {failed} failed",
                  file=sys.stderr, flush=True)
    base = statistics.median(rates[WAYS[0][0]])
    rows = []
    for name, _ in WAYS:
        med = statistics.median(rates[name])
        runs = ", ".join(f"{r:,.0f}" for r in rates[name])
        rows.append(f"| {name} | {med:,.0f} | {med / base:.2f} | {runs} |")
    cpu = os.cpu_count()
    kernel = os.uname().release
    section = "\n".join([
        "## A script's own loop against the built-in load",
        "",
        f"Command: `sudo flock /tmp/perftest-bed.lock bench/lua-loop` (ROUNDS={ROUNDS} SECS={SECS} C={C}), "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {cpu} cores ({kernel}), bench/testbed, "
        f"`{URL}` (nginx, new connection per request). The four ways alternate, round after round; "
        "the figure is the median of the rounds' requests per second. Goals: the loop at 0.9x or more "
        "of `run load`, with stats:add 0.8x or more.",
        "",
        "| driven by | requests/s (median) | vs run load | each round |",
        "|---|---:|---:|---|",
        *rows,
        "",
        "Commands: " + "; ".join(f"`{' '.join(cmds[n])}`" for n, _ in WAYS) + ".",
        "",
    ])
    print(section)
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    text = open(path).read()
    start = text.find("## A script's own loop against the built-in load")
    if start >= 0:
        end = text.find("\n## ", start + 3)
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)


main()
