"""A feed farm that answers like the internet: each answer after a seeded log-normal delay, on many hosts.

Blogs live on different servers, far away. This farm serves ``count`` RSS feeds from
``hosts`` loopback addresses (127.0.1.1, 127.0.1.2, …, all on one port), and holds each
answer for a delay drawn from a log-normal law (median 150 ms, capped at 2 s by default),
the same for a given (seed, feed, request number) on every run. Conditional GETs get 304
until the feed is published to. It runs as a child process, so its work does not share
relay's event loop; ``stats()`` returns the delays served since the last reset, from which
the benchmark computes the **wait bound** of a round: sum of delays / concurrency (no
poller can beat it without fetching more feeds at once).

    python bench/latency_farm.py --feeds 10000 --hosts 100 --port 8765   # serve until killed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

ITEMS = 10


def feed_body(feed: int, version: int, now: datetime) -> bytes:
    """RSS with 10 items; ``version`` new items were published after the first look."""
    newest = ITEMS + version
    items = "".join(
        f"<item><title>Article {n} du blog {feed} : le levain, étape {n % 7}</title>"
        f"<link>https://blog{feed}.example/2026/article-{n}/</link>"
        f"<guid isPermaLink=\"false\">https://blog{feed}.example/?p={1000 + n}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(hours=1 + newest - n))}</pubDate>"
        f"<description><![CDATA[<p>Farine, eau, sel et patience : la recette {n}, pas à pas, avec les "
        f"erreurs à éviter et les photos de chaque étape.</p>]]></description></item>"
        for n in range(newest, newest - ITEMS, -1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Blog {feed}</title>'
        f"<link>https://blog{feed}.example/</link><description>Un blog parmi d'autres</description>"
        f"{items}</channel></rss>"
    ).encode()


class Farm:
    def __init__(self, count: int, hosts: int, seed: int, median: float, sigma: float, cap: float) -> None:
        self.count, self.hosts, self.seed = count, hosts, seed
        self.mu, self.sigma, self.cap = math.log(median), sigma, cap
        self.version = [0] * count
        self.requests = [0] * count
        self.now = datetime.now(UTC)
        self.reset()

    def reset(self) -> None:
        self.served = 0
        self.delay_sum = 0.0
        self.delay_max = 0.0
        self.not_modified = 0

    def delay(self, feed: int) -> float:
        self.requests[feed] += 1
        draw = random.Random(f"{self.seed}/{feed}/{self.requests[feed]}").lognormvariate(self.mu, self.sigma)
        return min(draw, self.cap)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                writer.write(await self.answer(path, headers))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def answer(self, path: str, headers: dict[str, str]) -> bytes:
        if path.startswith("/_"):
            return self.control(path)
        feed = int(path.removeprefix("/f").removesuffix(".xml"))
        wait = self.delay(feed)
        await asyncio.sleep(wait)
        self.served += 1
        self.delay_sum += wait
        self.delay_max = max(self.delay_max, wait)
        etag = f'"v{self.version[feed]}"'
        if headers.get("if-none-match") == etag:
            self.not_modified += 1
            return f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode()
        body = feed_body(feed, self.version[feed], self.now)
        return (f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\nETag: {etag}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def control(self, path: str) -> bytes:
        if path.startswith("/_publish"):
            every = int(path.split("=", 1)[1])
            for feed in range(0, self.count, every):
                self.version[feed] += 1
            answer = {"published": len(range(0, self.count, every))}
        elif path == "/_reset":
            self.reset()
            answer = {}
        else:
            answer = {"served": self.served, "delay_sum": self.delay_sum, "delay_max": self.delay_max,
                      "not_modified": self.not_modified}
        body = json.dumps(answer).encode()
        return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def serve(args: argparse.Namespace) -> None:
    farm = Farm(args.feeds, args.hosts, args.seed, args.median, args.sigma, args.cap)
    servers = [await asyncio.start_server(farm.handle, host_address(h), args.port, backlog=4096)
               for h in range(args.hosts)]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def host_address(host: int) -> str:
    return f"127.0.{1 + host // 250}.{1 + host % 250}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LatencyFarm:
    """The farm as a child process: ``with LatencyFarm(10_000) as farm: farm.urls()``."""

    def __init__(self, count: int, *, hosts: int = 100, seed: int = 1, median: float = 0.150,
                 sigma: float = 0.8, cap: float = 2.0) -> None:
        self.count, self.hosts, self.seed = count, hosts, seed
        self.median, self.sigma, self.cap = median, sigma, cap
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LatencyFarm:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--feeds", str(self.count), "--hosts", str(self.hosts), "--port",
             str(self.port), "--seed", str(self.seed), "--median", str(self.median), "--sigma", str(self.sigma),
             "--cap", str(self.cap)],
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the latency farm did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(timeout=10)

    def url(self, feed: int) -> str:
        return f"http://{host_address(feed % self.hosts)}:{self.port}/f{feed}.xml"

    def urls(self) -> list[str]:
        return [self.url(feed) for feed in range(self.count)]

    def _control(self, path: str) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.1.1:{self.port}{path}", timeout=30) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]

    def publish(self, every: int) -> int:
        return int(self._control(f"/_publish?every={every}")["published"])

    def reset(self) -> None:
        self._control("/_reset")

    def stats(self) -> dict[str, float]:
        return self._control("/_stats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--median", type=float, default=0.150)
    parser.add_argument("--sigma", type=float, default=0.8)
    parser.add_argument("--cap", type=float, default=2.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    time.sleep(0)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
