"""The 304 path of a polling round, by HTTP client: httpx (relay's) against aiohttp (C HTTP parser).

Both clients make the same conditional GETs, at the same concurrency, to the latency farm
(delays of about a millisecond, so the client's own CPU is what shows), one request per feed
over ``--hosts`` hosts, as a round does. Figures are CPU seconds of this process per 1,000
requests, and the ratio between the two clients measured in the same run.

    .venv/bin/python bench/bench_http_clients.py [--requests 5000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from latency_farm import LatencyFarm


async def run(get: Callable[[str], Awaitable[int]], urls: list[str], concurrency: int) -> tuple[float, float]:
    slots = asyncio.Semaphore(concurrency)

    async def one(url: str) -> int:
        async with slots:
            return await get(url)

    cpu, wall = time.process_time(), time.perf_counter()
    statuses = await asyncio.gather(*(one(url) for url in urls))
    if set(statuses) != {304}:
        raise RuntimeError(f"expected only 304s, got {sorted(set(statuses))}")
    return time.process_time() - cpu, time.perf_counter() - wall


async def with_httpx(urls: list[str], concurrency: int) -> tuple[float, float]:
    async with httpx.AsyncClient(timeout=20) as client:
        async def get(url: str) -> int:
            async with client.stream("GET", url, headers={"If-None-Match": '"v0"'}) as response:
                await response.aread()
                return response.status_code

        return await run(get, urls, concurrency)


async def with_aiohttp(urls: list[str], concurrency: int) -> tuple[float, float]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async def get(url: str) -> int:
            async with session.get(url, headers={"If-None-Match": '"v0"'}, allow_redirects=False) as response:
                await response.read()
                return response.status

        return await run(get, urls, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with LatencyFarm(args.requests, hosts=args.hosts, median=0.001, sigma=0.1, cap=0.005) as farm:
        urls = farm.urls()
        results: dict[str, list[tuple[float, float]]] = {"httpx": [], "aiohttp": []}
        for _ in range(args.repeat):  # interleaved, so a burst of load on the machine hits both
            results["httpx"].append(asyncio.run(with_httpx(urls, args.concurrency)))
            results["aiohttp"].append(asyncio.run(with_aiohttp(urls, args.concurrency)))
    print(f"{args.requests} conditional GETs (304) over {args.hosts} hosts at concurrency {args.concurrency}, "
          f"best of {args.repeat}; load {os.getloadavg()[0]:.2f}")
    best = {name: min(runs) for name, runs in results.items()}
    for name, (cpu, wall) in best.items():
        print(f"  {name:8} {cpu / args.requests * 1000:6.3f} s CPU per 1,000 requests, {wall:.2f} s wall")
    print(f"  aiohttp uses {best['aiohttp'][0] / best['httpx'][0]:.2f}x the CPU of httpx")


if __name__ == "__main__":
    main()
