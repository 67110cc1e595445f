"""A polling round against feeds that answer with the internet's delays, against its wait bound and the naive loop.

The farm (bench/latency_farm.py) serves N feeds from 100 loopback hosts, each answer held for
a seeded log-normal delay (median 150 ms, capped at 2 s). The run:

1. relay (its real stack: SQLite store, service, FeedPoller, parser processes) looks at every
   feed once: the **first look** (all new, all parsed; timed, not the target);
2. for each concurrency asked: ``--changed`` of the feeds get a new post, then one full round
   (``poll(only_due=False)``, what ``relay poll --once`` does): 90% answer 304. Timed, with
   its CPU, and set against the **wait bound** of that very round: the delays the farm
   served, summed and divided by the concurrency (or the longest one, if larger);
3. the naive way, ``feedparser.parse(url)`` one feed after the other on ``--sample`` feeds,
   extrapolated linearly to N.

    .venv/bin/python bench/bench_latency_polling.py [--feeds 10000] [--concurrency 20,50,100,200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from latency_farm import LatencyFarm

from relay.config.settings import Settings
from relay.logs import configure_logging
from relay.pipeline.polling import PollOutcome
from relay.store.engine import apply_migrations
from relay.wiring import build_runtime

RESULTS = Path(__file__).resolve().parent / "results"


def settings_for(farm: LatencyFarm, workdir: Path, concurrency: int) -> Settings:
    return Settings.model_validate({
        "database": {"url": f"sqlite:///{workdir / 'relay.db'}"},
        "polling": {"concurrency": concurrency, "fetch_pages": False},
        "fetch": {"images": False},
        "feeds": [{"url": url} for url in farm.urls()],
    })


async def one_round(settings: Settings) -> tuple[float, float, list[PollOutcome]]:
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)
    try:
        cpu, started = time.process_time(), time.perf_counter()
        outcomes = await runtime.poller.poll(datetime.now(UTC), only_due=False)
        return time.perf_counter() - started, time.process_time() - cpu, outcomes
    finally:
        await runtime.aclose()


def naive_seconds_per_feed(farm: LatencyFarm, sample: int) -> float:
    step = max(1, farm.count // sample)
    feeds = range(0, farm.count, step)[:sample]
    started = time.perf_counter()
    for feed in feeds:
        parsed = feedparser.parse(farm.url(feed))
        if parsed.get("status") != 200 or len(parsed.entries) != 10:
            raise RuntimeError(f"feedparser got {parsed.get('status')} / {len(parsed.entries)} entries")
    return (time.perf_counter() - started) / len(feeds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--changed", type=float, default=0.10, help="share of feeds with a new post each round")
    parser.add_argument("--concurrency", default="20,50,100,200", help="the rounds' [polling] concurrency")
    parser.add_argument("--sample", type=int, default=100, help="feeds timed for the naive loop")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-latency-"))
    log_file = (workdir / "relay.log").open("w", encoding="utf-8")
    configure_logging(level="WARNING", fmt="json")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
    rows = []
    try:
        with LatencyFarm(args.feeds, hosts=args.hosts, seed=args.seed) as farm:
            first_s, first_cpu, first = asyncio.run(one_round(settings_for(farm, workdir, max(levels))))
            errors = [o.error for o in first if o.error]
            print(f"first look (all new, all parsed) at concurrency {max(levels)}: {first_s:.1f} s, "
                  f"{first_cpu:.1f} s CPU, {len(errors)} errors {errors[:2]}", flush=True)
            for level in levels:
                published = farm.publish(round(1 / args.changed))
                farm.reset()
                wall, cpu, outcomes = asyncio.run(one_round(settings_for(farm, workdir, level)))
                stats = farm.stats()
                bound = max(stats["delay_sum"] / level, stats["delay_max"])
                parsed = sum(1 for o in outcomes if not o.not_modified and not o.error)
                rows.append({"concurrency": level, "round_s": wall, "round_cpu_s": cpu, "bound_s": bound,
                             "served": stats["served"], "not_modified": stats["not_modified"],
                             "parsed": parsed, "published": published,
                             "errors": sum(1 for o in outcomes if o.error)})
                print(f"concurrency {level}: round {wall:.1f} s ({cpu:.1f} s CPU), wait bound {bound:.1f} s "
                      f"-> {wall / bound:.2f}x the bound; {parsed} parsed, {stats['not_modified']:.0f} 304, "
                      f"{rows[-1]['errors']} errors", flush=True)
            farm.reset()
            per_feed = naive_seconds_per_feed(farm, args.sample)
    finally:
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)

    naive_s = per_feed * args.feeds
    print()
    print(f"# relay polling against network delays — {datetime.now(UTC):%Y-%m-%d}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {platform.platform()}; "
          f"load at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"farm: {args.feeds} feeds on {args.hosts} loopback hosts, log-normal delays (median 150 ms, "
          f"sigma 0.8, cap 2 s, seed {args.seed}); {args.changed:.0%} changed per round")
    print(f"naive loop: {per_feed * 1000:.0f} ms a feed ({args.sample} timed) -> {naive_s:.0f} s for {args.feeds}")
    print("| concurrency | round | CPU | wait bound | round / bound | naive / round |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['concurrency']} | {row['round_s']:.1f} s | {row['round_cpu_s']:.1f} s | {row['bound_s']:.1f} s "
              f"| {row['round_s'] / row['bound_s']:.2f} | {naive_s / row['round_s']:.0f}x |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency_polling.json").write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(), "feeds": args.feeds, "hosts": args.hosts, "rounds": rows,
        "first_look_s": first_s, "naive_per_feed_s": per_feed, "naive_s": naive_s, "loadavg": os.getloadavg(),
    }, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
