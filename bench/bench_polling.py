"""One polling round over 10,000 feeds: relay's FeedPoller against a sequential feedparser loop.

The farm (bench/nginx_farm.py) is Debian's nginx serving static ~20 KB RSS files on a free
local port, answering ETag / Last-Modified conditional requests natively. The run:

1. relay's real stack (``build_runtime``: SQLite store migrated in a temp dir, service,
   FeedPoller with the configured concurrency) is given all N feeds and polls them once:
   the **baseline round** (every feed is new, every body is parsed; timed, not the target);
2. a new post is published on ``--changed`` of the feeds (10%: nginx gives them a new ETag);
3. the **measured round**: one full ``poll(only_due=False)`` (what ``relay poll --once``
   does): 90% answer 304, 10% are parsed, triaged, and one tweet each is queued;
4. the naive way, ``feedparser.parse(url)`` one feed after the other (no conditional GET,
   every body parsed), timed on ``--sample`` feeds spread over the farm, **extrapolated**
   linearly to N.

Peak memory is the process's resident high-water mark (``VmHWM``), reset through
``/proc/self/clear_refs`` before the measured round so it covers that round alone; the
whole-process peak (``ru_maxrss``, baseline round included) is reported too. Pages are not
fetched (``fetch_pages = false``): the farm's post links point at hosts that do not exist.

The round's CPU is given for relay's process and, apart, for its parser processes (their
``/proc/PID/stat`` user + system time over the round): parsing runs on every core.

    .venv/bin/python bench/bench_polling.py [--feeds 10000] [--concurrency 50] [--sample 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from nginx_farm import NginxFarm

from relay.config.settings import Settings
from relay.logs import configure_logging
from relay.pipeline.polling import PollOutcome
from relay.store.engine import apply_migrations
from relay.wiring import Runtime, build_runtime

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mb() -> tuple[float, float]:
    """(current, peak since the last reset) resident memory of this process, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def parser_cpu(runtime: Runtime) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of relay's parser processes."""
    pool = runtime.poller.parsers._pool
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in list(getattr(pool, "_processes", {}) or {}):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def parser_peak_rss_mb(runtime: Runtime) -> list[float]:
    pool = runtime.poller.parsers._pool
    peaks = []
    for pid in list(getattr(pool, "_processes", {}) or {}):
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(status.split("VmHWM:")[1].split()[0]) / 1024)
    return peaks


def summarise(outcomes: Sequence[PollOutcome]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        counts["error" if outcome.error else "304/unchanged" if outcome.not_modified else "parsed"] += 1
        counts["new entries"] += outcome.new
        counts["tweets queued"] += outcome.queued
    return counts


def build(farm: NginxFarm, workdir: Path, concurrency: int) -> Runtime:
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{workdir / 'relay.db'}"},
        "polling": {"concurrency": concurrency, "fetch_pages": False},
        "fetch": {"images": False},
        "feeds": [{"url": url} for url in farm.urls()],
    })
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)
    return runtime


async def relay_rounds(farm: NginxFarm, runtime: Runtime, changed: int) -> dict[str, object]:
    started = time.perf_counter()
    baseline = await runtime.poller.poll(datetime.now(UTC), only_due=False)
    baseline_s = time.perf_counter() - started
    farm.publish(range(0, farm.count, farm.count // changed))
    reset = reset_peak_rss()
    accepted = farm.connections_accepted()
    parsers_before = parser_cpu(runtime)
    cpu = time.process_time()
    started = time.perf_counter()
    measured = await runtime.poller.poll(datetime.now(UTC), only_due=False)
    round_s = time.perf_counter() - started
    cpu = time.process_time() - cpu
    parsers_after = parser_cpu(runtime)
    parsers_cpu = sum(parsers_after.values()) - sum(parsers_before.get(pid, 0.0) for pid in parsers_after)
    parsers_rss = parser_peak_rss_mb(runtime)
    connections = farm.connections_accepted() - accepted - 1
    await runtime.aclose()
    return {
        "baseline_s": baseline_s, "baseline": summarise(baseline), "round_s": round_s, "round_cpu_s": cpu,
        "round": summarise(measured), "connections": connections, "round_peak_mb": rss_mb()[1] if reset else None,
        "parsers": len(parsers_after), "parsers_cpu_s": parsers_cpu, "parsers_peak_mb": parsers_rss,
        "errors": sorted({o.error or "" for o in measured if o.error})[:3],
    }


def sequential_sample(farm: NginxFarm, sample: int) -> tuple[float, list[float]]:
    """Seconds per feed of ``feedparser.parse(url)`` on ``sample`` feeds spread over the farm."""
    step = max(1, farm.count // sample)
    timings = []
    for feed in range(0, farm.count, step)[:sample]:
        started = time.perf_counter()
        parsed = feedparser.parse(farm.url(feed))
        timings.append(time.perf_counter() - started)
        if parsed.get("status") != 200 or len(parsed.entries) != 10:
            raise RuntimeError(f"feedparser got {parsed.get('status')} / {len(parsed.entries)} entries")
    return sum(timings), timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.10, help="share of feeds with a new post")
    parser.add_argument("--concurrency", type=int, default=50, help="[polling] concurrency (relay's default: 50)")
    parser.add_argument("--sample", type=int, default=500, help="feeds timed for the sequential loop")
    parser.add_argument("--keep", action="store_true", help="keep the temporary farm and database")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-polling-"))
    workdir.chmod(0o755)  # nginx workers run as an unprivileged user
    changed = round(args.feeds * args.changed)
    log_file = (workdir / "relay.log").open("w", encoding="utf-8")
    configure_logging(level="INFO", fmt="json")  # relay's real logging, into a file rather than the terminal
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_file)
    try:
        farm = NginxFarm(workdir / "farm", args.feeds)
        built = time.perf_counter()
        farm.build()
        build_s = time.perf_counter() - built
        feed_kb = sum(p.stat().st_size for p in (workdir / "farm" / "www" / "feeds").iterdir()) / args.feeds / 1024
        farm.start()
        try:
            runtime = build(farm, workdir, args.concurrency)
            relay = asyncio.run(relay_rounds(farm, runtime, changed))
            naive_sample_s, timings = sequential_sample(farm, args.sample)
        finally:
            farm.stop()
            log_file.close()
        log_lines = (workdir / "relay.log").read_text(encoding="utf-8").count("\n")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    per_feed = naive_sample_s / len(timings)
    naive_s = per_feed * args.feeds
    round_s = float(relay["round_s"])  # type: ignore[arg-type]
    peak = relay["round_peak_mb"]
    print(f"# relay polling benchmark — {datetime.now(UTC):%Y-%m-%d}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}, {platform.platform()}")
    print(f"farm: {args.feeds} feeds (RSS 2.0, 10 items, {feed_kb:.1f} KB each) on nginx, "
          f"built in {build_s:.1f} s; {changed} feeds got a new post between the rounds")
    print(f"relay concurrency: {args.concurrency}; SQLite in a temp dir; pages not fetched; "
          f"{log_lines} JSON log lines written to a file")
    print()
    print(f"baseline round (all new, all parsed): {relay['baseline_s']:.1f} s  {dict(relay['baseline'])}")  # type: ignore[call-overload]
    print(f"measured round: {round_s:.1f} s wall, {relay['round_cpu_s']:.1f} s CPU in relay's process, "
          f"{relay['parsers_cpu_s']:.1f} s in its {relay['parsers']} parser processes  {dict(relay['round'])}")  # type: ignore[call-overload]
    print(f"  TCP connections relay opened during the round: {relay['connections']} for {args.feeds} requests")
    if relay["errors"]:
        print(f"  errors (first 3): {relay['errors']}")
    print(f"sequential feedparser.parse(url): {naive_sample_s:.1f} s for {len(timings)} feeds "
          f"(median {statistics.median(timings) * 1000:.1f} ms/feed) -> extrapolated to {args.feeds}: {naive_s:.0f} s")
    print(f"ratio: relay's round is {naive_s / round_s:.1f}x faster (target >= 20x); round <= 60 s: "
          f"{'yes' if round_s <= 60 else 'NO'}")
    peak_text = f"{peak:.0f} MB" if isinstance(peak, float) else "n/a (clear_refs unavailable)"
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS during the measured round: {peak_text}; whole process (baseline round included): "
          f"{process_peak:.0f} MB (target < 300 MB); parser processes' peaks: "
          f"{', '.join(f'{mb:.0f} MB' for mb in relay['parsers_peak_mb']) or 'none'}")  # type: ignore[attr-defined]
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "polling.json").write_text(json.dumps({
        "date": datetime.now(UTC).isoformat(), "feeds": args.feeds, "changed": changed,
        "concurrency": args.concurrency, "feed_kb": feed_kb, "baseline_round_s": relay["baseline_s"],
        "measured_round_s": round_s, "measured_round_cpu_s": relay["round_cpu_s"],
        "round": relay["round"], "connections": relay["connections"], "sequential_sample": len(timings),
        "sequential_sample_s": naive_sample_s, "sequential_extrapolated_s": naive_s, "ratio": naive_s / round_s,
        "round_peak_rss_mb": peak, "process_peak_rss_mb": process_peak, "loadavg": os.getloadavg(),
        "parsers": relay["parsers"], "parsers_cpu_s": relay["parsers_cpu_s"],
        "parsers_peak_mb": relay["parsers_peak_mb"],
    }, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
