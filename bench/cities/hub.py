#!/usr/bin/env python3
"""The one HTTPS target every city of bench/cities probes, and the way its cities reach moto and
Prometheus: one process, stdlib only, whose listening sockets live in every city's network
namespace.

A socket belongs to the namespace its process was in when it was made, so this process enters
each city's namespace in turn (setns), opens there

  127.0.0.2:443   the target (TLS with the bed's certificate): one server for the whole fleet,
                  so a slowdown of it is seen by every city at once, as the seed's 09:00 spike
  127.0.0.1:4566  a relay to moto, and 127.0.0.1:9090 a relay to Prometheus, both of which
                  run on the host's loopback

and comes back. Each city's round trip is its own namespace's NFQUEUE delayer holding the
packets to and from 127.0.0.2; nothing here delays anything but the target's answer.

The control file (--slow-file), read at every request, says how the target is slowed: "MS
SHARE" holds the first byte of that share of each city's requests MS ms (spread evenly over its
requests), so a slow path that some requests take
shows in a p95 and not in a p10, as the seed's 09:00 spike did; absent or empty, none is held.
Every request is logged: time, city, hold applied.

  hub.py --ns ptcity-a,ptcity-b --cert C --key K --moto-port P --prom-port Q --slow-file F --log L
"""

import argparse
import asyncio
import ctypes
import math
import os
import ssl
import sys
import time

CLONE_NEWNET = 0x40000000
BODY = b"p" * 2048


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def listener(host, port):
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(512)
    s.setblocking(False)
    return s


COUNT = {}


def hold_ms(path, city):
    n = COUNT.get(city, 0)
    COUNT[city] = n + 1
    try:
        with open(path) as f:
            words = f.read().split()
        ms, share = float(words[0]), float(words[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    # Spread evenly (every 1/share-th request), so that no burst of slow ones lands in the
    # seconds before a period ends and lifts that period's p95 before the slowdown is under way.
    return ms if math.floor((n + 1) * share) > math.floor(n * share) else 0.0


async def target(city, reader, writer, args, log):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
        writer.close()
        return
    t = time.time()
    hold = hold_ms(args.slow_file, city)
    if hold > 0:
        await asyncio.sleep(hold / 1000)
    path = head.split(b" ", 2)[1].decode(errors="replace") if b" " in head else "?"
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
        + str(len(BODY)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + BODY
    )
    try:
        await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    log.write(f"{t:.3f} {city} {hold:.0f} {path}\n")
    writer.close()


async def relay(reader, writer, port):
    try:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.close()
        return

    async def pipe(r, w):
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                w.write_eof()
            except (OSError, RuntimeError):
                pass

    await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
    writer.close()
    up_w.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ns", required=True, help="comma-separated city namespaces")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--moto-port", type=int, required=True)
    p.add_argument("--prom-port", type=int, required=True)
    p.add_argument("--slow-file", required=True)
    p.add_argument("--log", required=True)
    args = p.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.num_tickets = 0
    log = open(args.log, "a", buffering=1)

    home_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    sockets = []
    for ns in args.ns.split(","):
        setns(f"/var/run/netns/{ns}")
        sockets.append((ns, listener("127.0.0.2", 443), listener("127.0.0.1", 4566), listener("127.0.0.1", 9090)))
        # Back home before the next (/proc/self/ns/net names the city's namespace now).
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(home_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns home")
    os.close(home_fd)

    servers = []
    for ns, tls, moto, prom in sockets:
        servers.append(await asyncio.start_server(lambda r, w, ns=ns: target(ns, r, w, args, log), sock=tls, ssl=ctx))
        servers.append(await asyncio.start_server(lambda r, w: relay(r, w, args.moto_port), sock=moto))
        servers.append(await asyncio.start_server(lambda r, w: relay(r, w, args.prom_port), sock=prom))
    print(f"ready: {len(sockets)} cities", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
