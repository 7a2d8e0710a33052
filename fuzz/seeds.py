#!/usr/bin/env python3
"""Writes fuzz/seeds/TARGET/ from the tests' own cases: the URLs, threshold expressions, command
lines and JSON texts that tests/*.rs and the bundled scripts use, and the responses the tests'
servers send (tests/common), in the byte forms src/fuzzing.rs reads. Run again when the tests
gain cases; the seeds are committed, the corpus the fuzzer grows (fuzz/corpus) is not.

    python3 fuzz/seeds.py
"""
import glob
import hashlib
import json
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")
SOURCES = sorted(glob.glob(os.path.join(ROOT, "tests", "*.rs")) + glob.glob(os.path.join(ROOT, "tests", "common", "*.rs"))
                 + glob.glob(os.path.join(ROOT, "src", "**", "*.rs"), recursive=True)
                 + glob.glob(os.path.join(ROOT, "scripts", "*.lua")) + glob.glob(os.path.join(ROOT, "stdlib", "perftest", "*.lua")))
TEXT = "\n".join(open(p, encoding="utf-8").read() for p in SOURCES)
# Rust and Lua string literals, escapes undone as far as these cases need.
LITERALS = [s.encode().decode("unicode_escape", errors="ignore")
            for s in re.findall(r'"((?:[^"\\\n]|\\.)*)"', TEXT)]


def write(target, cases):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for c in cases:
        b = c if isinstance(c, bytes) else c.encode("utf-8", errors="surrogateescape")
        if b in seen:
            continue
        seen.add(b)
        open(os.path.join(d, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
    print(f"{target}: {len(seen)} seeds")


# url: URL, newline, a Location to join to it.
urls = sorted({s for s in LITERALS if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", s) and "{" not in s} | {
    "http://example.com", "https://user:pw@[::1]:8443/a/b?c=d#e", "http://xn--nxasmq6b.test/", "http://例え.テスト/",
    "HTTP://EXAMPLE.COM:80/", "http://host:65536/", "http://host:/", "ftp://host/", "http:///path", "http://a b/"})
locations = ["", "/again", "again", "../up", "//other.test/x", "https://elsewhere.test:8443/y?z", "?q=1", "#frag",
             "http://[::1]:80/", "http://user@host/", " /spaced ", "\t", "http://h%00st/"]
locations += sorted({m for m in re.findall(r"Location: ([^\\\r\"]+)", TEXT)})
write("url", [f"{u}\n{loc}" for u in urls for loc in locations[: 4 if len(urls) > 40 else len(locations)]]
      + [f"{urls[0]}\n{loc}" for loc in locations])

# thresholds: metric, newline, expression.
exprs = sorted({s for s in LITERALS if re.match(r"^\s*(p\([0-9.]+\)|avg|med|min|max|stddev|count|rate)\s*[<>=!]", s)}
               | {"p(95) < 300", "p(99.9) <= 1e3", "rate < 0.01", "count >= 100", "p(0) > 0", "p(100) == 5", "avg != 1",
                  "p(95)<300", "  max   >=   -1.5e-3  ", "p(-1) < 1", "p(NaN) < 1", "p() < 1", "rate < inf", "rate < nan"})
exprs = [e.replace("%s", "300") for e in exprs]
metrics = ["total", "first", "dns", "tcp", "tls", "lastb", "size", "errors", "ok", "samples", "nope", ""]
write("thresholds", [f"{m}\n{e}" for m in metrics for e in exprs])

# classic: NUL-separated words, from the tests' argv lists.
argvs = []
for group in re.findall(r"(?:&|vec!)\[((?:\s*\"(?:[^\"\\\n]|\\.)*\"\s*,?)+)\]", TEXT):
    words = re.findall(r'"((?:[^"\\\n]|\\.)*)"', group)
    if words and any(w.startswith("-") for w in words):
        argvs.append(words)
argvs += [["-n", "5", "-d", "2", "http://a.test/"], ["-n=5", "-d=2", "http://a.test/"], ["--n", "5", "http://a.test/"],
          ["-insecure", "-j=true", "-q=false", "http://a.test/"], ["-n", "-5", "http://a.test/"], ["container"],
          ["container", "run", "monitor", "-d", "1", "http://a.test/"], ["run", "default", "-n", "1", "http://a.test/"],
          ["-W", "-", "-A", "100", "-M", "60", "http://a.test/"], ["-j=maybe"], ["--", "-n"], ["-qk", "http://a.test/"]]
write("classic", ["\0".join(a) for a in argvs])

# json: every literal that is JSON, and a few of the shapes decoders trip on.
docs = []
for s in LITERALS:
    if s[:1] in "{[\"" or s in ("null", "true", "false"):
        try:
            json.loads(s)
            docs.append(s)
        except ValueError:
            pass
docs += ['{"a": [1, 2.5, -3e300, null, true, "x\\u00e9\\ud83d\\ude00"]}', "[" * 200 + "]" * 200, '{"a":1,"a":2}',
         "18446744073709551616", "-9223372036854775809", "1e400", '"\\ud800"', "{\"a\": x}", "[1] 2", "[1, 2", "\ufeff{}",
         '{"":{"":{"":[]}}}', "[[],{}]", "0.0000000000000000000000000001"]
write("json", docs)

# response: the first byte says how (bit 0: HTTP/2 frames; bit 1: keep half the body), then
# the server's bytes, as the tests' servers send them.
h1 = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere.test:8443/x\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nread to the end",
    b"HTTP/1.0 200 OK\r\n\r\nold",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nX-Slow: ",
    b"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Evil: \x1b[2J\x07\xff\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/2 200\r\n\r\n", b"\r\n\r\n", b"", b"garbage",
]


def frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


SETTINGS, ACK = frame(4, 0, 0, b""), frame(4, 1, 0, b"")
# HPACK: 0x88 is ":status: 200" (static table 8), 0x8d ":status: 404"; a literal 'location'.
h2 = [
    SETTINGS + ACK + frame(1, 4, 1, b"\x88") + frame(0, 1, 1, b"hello"),
    SETTINGS + ACK + frame(1, 5, 1, b"\x8d"),
    SETTINGS + frame(1, 4, 1, b"\x48\x03302" + b"\x6e\x06/again") + frame(0, 1, 1, b""),
    SETTINGS + ACK + frame(1, 4, 1, b"\x88") + frame(0, 0, 1, b"a" * 100) + frame(3, 0, 1, b"\x00\x00\x00\x02"),
    SETTINGS + frame(7, 0, 0, b"\x00\x00\x00\x00\x00\x00\x00\x01"),
    SETTINGS + frame(1, 0, 1, b"\x88") + frame(9, 4, 1, b""),
    SETTINGS + frame(6, 0, 0, b"12345678") + frame(8, 0, 0, b"\x00\x00\x10\x00"),
    frame(4, 0, 0, b"\x00\x04\x00\x00\x00\x00"), b"",
]
write("response", [bytes([0]) + r for r in h1] + [bytes([2]) + r for r in h1[:6]]
      + [bytes([1]) + r for r in h2] + [bytes([3]) + r for r in h2[:4]])


# options: src/fuzzing.rs's Reader format: URL pick, pair count, then (key, value) pairs.
def text(s):
    b = s.encode()
    return bytes([len(b)]) + b


def opt(name):
    names = ["method", "headers", "body", "timeout", "connect_timeout", "insecure", "cacert", "http2",
             "follow_redirects", "resolve", "ip", "max_body", "dns_server"]
    return bytes([0, names.index(name)])


def s(v):
    return bytes([6]) + text(v)


def num(v):
    return bytes([5, int(v * 8)])


def boolean(v):
    return bytes([1, int(v)])


def table(pairs):
    return bytes([7, len(pairs)]) + b"".join(bytes([2]) + text(k) + v for k, v in pairs)


def opts(pick, pairs):
    return bytes([pick, len(pairs)]) + b"".join(opt(k) + v for k, v in pairs)


write("options", [
    opts(0, []),
    opts(0, [("timeout", num(2)), ("connect_timeout", num(0.5))]),
    opts(1, [("method", s("POST")), ("body", s("x=1")), ("headers", table([("X-A", s("b")), ("Host", s("h"))]))]),
    opts(0, [("follow_redirects", boolean(True))]), opts(0, [("follow_redirects", num(3))]),
    opts(0, [("resolve", s("fuzz.test:80:127.0.0.1"))]), opts(2, [("resolve", table([("fuzz.test", s("::1"))]))]),
    opts(0, [("ip", s("4"))]), opts(0, [("ip", s("v6"))]), opts(0, [("max_body", num(16))]),
    opts(0, [("dns_server", s("127.0.0.53:53"))]), opts(1, [("insecure", boolean(True)), ("http2", boolean(True))]),
    opts(1, [("cacert", s("/nonexistent.pem"))]), opts(0, [("timeout", bytes([3]) + b"\x00" * 7 + b"\xf0")]),
    opts(0, [("method", s("GET\r\nX: y"))]), opts(0, [("headers", table([("bad name", s("v"))]))]),
    opts(3, []), bytes([3, 8]) + b"http://a",
])
