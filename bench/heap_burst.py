"""bench/heap-burst's server and sampler.

serve: an HTTP/1.1 server on 127.0.0.1 (a port of its own, printed first) that holds every
       request HOLD seconds during the first SLOW seconds, then answers at once (2,000 bytes):
       a burst of probes in flight, then calm.
watch: every EVERY seconds for SECONDS, perftest's /memstats: resident memory and glibc's
       in-use and free bytes, one line each.
"""

import asyncio
import json
import sys
import time
import urllib.request

MIB = 1048576.0


def serve(slow, hold):
    t0 = time.monotonic()
    body = b"x" * 2000

    async def handle(r, w):
        try:
            while True:
                await r.readuntil(b"\r\n\r\n")
                if time.monotonic() - t0 < slow:
                    await asyncio.sleep(hold)
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    async def main():
        s = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        print(s.sockets[0].getsockname()[1], flush=True)
        async with s:
            await s.serve_forever()

    asyncio.run(main())


def watch(url, seconds, every):
    start = time.monotonic()
    print("| s | RSS MiB | malloc in use MiB | malloc free MiB | open fds | probes done |")
    print("|---:|---:|---:|---:|---:|---:|")
    t = every
    while t <= seconds:
        time.sleep(max(0.0, start + t - time.monotonic()))
        with urllib.request.urlopen(url + "/memstats?format=json", timeout=10) as r:
            m = json.load(r)
        p = m["process"]
        print(f"| {t:.0f} | {p['rss_bytes'] / MIB:.2f} | {p['heap_in_use_bytes'] / MIB:.2f} | "
              f"{p['heap_free_bytes'] / MIB:.2f} | {p['open_fds']} | {m['probes_done']} |", flush=True)
        t += every


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(float(sys.argv[2]), float(sys.argv[3]))
    else:
        watch(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
