"""Many instances: polling and posting throughput of 1, 2 and 3 ``relay worker`` processes on
PostgreSQL, against one on SQLite, in one run (issue #8).

Why this shape: an agency runs many instances on one PostgreSQL so that more feeds and more
posts get through; whether a second and third process actually buy throughput, and what
PostgreSQL costs against the single-process SQLite default, are ratios against SQLite x 1
measured in the same run on the same feeds. Absolute figures move with the machine.

Per configuration (each on a fresh database: a new SQLite file, or a new PostgreSQL database
``relay_bench_instances_<pid>`` dropped at the end):

1. the workers start (real ``relay worker`` child processes, migrations applied beforehand)
   with ``--feeds`` feeds of an nginx farm (bench/nginx_farm.py: static ~20 KB WordPress-like
   RSS files, ETag and Last-Modified answered by nginx) in their config;
2. **baseline round**: every feed is new, so every feed is fetched and parsed and its entries
   remembered, none posted; feeds/s = feeds / (all feeds baselined - first feed row created);
3. **new posts**: ``--posts`` of the feeds (spread over the farm) get one new post each (file
   replaced atomically), then every feed is made due at once, as if the polling interval had
   elapsed for all of them (``UPDATE feeds SET next_check_at = now``; the interval is 60 min
   so nothing else comes due during the run); posts/s = posts / (last tweet stored by the X
   emulator - that moment). Every feed is fetched again: most answer 304, the changed ones
   are parsed and their post queued, then posted through the outbox.

The X emulator runs in this process (``tweet_rate_limit=100_000``). CPU time is read from
/proc for the workers, PostgreSQL's processes, nginx and this process, and the machine's
busy time from /proc/stat, so the report says what limited each configuration. Other jobs
on a shared machine only ever slow a round down, so each configuration runs ``--rounds``
times, interleaved with the others, after waiting for the CPUs to be idle, and the best
round is the figure (the median is printed beside it). ``--trace`` runs the workers under
bench/relay_traced.py and splits their CPU by step (parsing, triage, recording, posting).

    .venv/bin/python bench/bench_instances.py [--feeds 1000] [--posts 600] [--rounds 3]
        [--configs sqlite:1,postgresql:1,postgresql:2,postgresql:3] [--trace] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_support as support
import relay_traced
from nginx_farm import NginxFarm, feed_xml
from sqlalchemy import Engine, func, select, update

from relay.store.engine import apply_migrations, make_engine
from relay.store.schema import deliveries, feeds
from relay.testing.x_emulator import EmulatorServer

SAMPLE_SECONDS = 0.2
"""How often the database and the emulator are looked at while a phase runs."""


class Farm(NginxFarm):
    """The nginx farm, with new posts written atomically (a poll never reads half a file)."""

    def publish(self, feeds: Iterable[int]) -> int:
        now = datetime.now(UTC)
        changed = 0
        for feed in feeds:
            self.newest[feed] += 1
            path = self._path(feed)
            partial = path.with_name(path.name + ".new")
            partial.write_bytes(feed_xml(feed, self.newest[feed], now=now))
            os.replace(partial, path)
            changed += 1
        return changed


def worker_config(workdir: Path, database_url: str, emulator_url: str, feed_urls: Sequence[str]) -> Path:
    """Defaults everywhere, except what a throughput benchmark must change (said per line)."""
    blocks = "".join(f'[[feeds]]\nurl = "{url}"\n' for url in feed_urls)
    path = workdir / "relay.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n'
        f'[x]\napi_base_url = "{emulator_url}"\n'
        "[polling]\n"
        "interval_minutes = 60\n"  # feeds come due when the benchmark says so, not on their own
        "jitter = 0\n"
        "publish_interval_seconds = 0.5\n"  # an idle worker looks for due feeds twice a second
        "max_age_days = 3650\n"
        "spacing_minutes = 0\n"
        "fetch_pages = false\n"  # the posts link to blogN.example, which does not exist
        "[publishing]\nmonthly_budget_usd = 0\ndaily_cap = 1000000\n"  # else $20 = 100 posts
        "[fetch]\nimages = false\n"
        '[log]\nlevel = "WARNING"\n' + blocks,
        encoding="utf-8",
    )
    return path


def count(engine: Engine, query: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def watch(targets: dict[str, tuple[Any, int]], *, timeout: float, stall: float = 120) -> dict[str, float]:
    """Sample each ``(read, goal)`` every SAMPLE_SECONDS; the wall time at which each reached its goal.

    Gives up after ``timeout`` seconds, or after ``stall`` seconds without any count moving.
    """
    reached: dict[str, float] = {}
    started = last_move = time.monotonic()
    last: dict[str, int] = {}
    while len(reached) < len(targets):
        now, tick = time.time(), time.monotonic()
        values = {name: read() for name, (read, _goal) in targets.items() if name not in reached}
        for name, value in values.items():
            if value >= targets[name][1]:
                reached[name] = now
        if values != last:
            last, last_move = values, tick
        if len(reached) < len(targets) and (tick - started > timeout or tick - last_move > stall):
            raise TimeoutError(f"gave up after {tick - started:.0f}s ({tick - last_move:.0f}s without progress); "
                               f"counts: {values}")
        time.sleep(SAMPLE_SECONDS)
    return reached


CPU_STEPS = ("poll.parse_feed", "service.triage_feed", "service.record_feed_entries", "compose_tweet",
             "store.claim_feeds", "store.sync_feeds", "store.update_feed", "service.publish_due")
"""Traced blocking steps that do not contain one another (compose_tweet runs inside
record_feed_entries, but is taken out of it below), for the CPU breakdown."""


def cpu_breakdown(traces: list[Path], window: tuple[float, float], per: int) -> dict[str, float]:
    """Thread CPU ms per feed (or post) in each step of CPU_STEPS, from bench/relay_traced.py's events."""
    totals = dict.fromkeys(CPU_STEPS, 0.0)
    for name, _start, _wall, cpu, _thread in relay_traced.read_trace(traces, window):
        if name in totals and cpu is not None:
            totals[name] += cpu
    totals["service.record_feed_entries"] -= totals["compose_tweet"]
    return {name: seconds * 1000 / per for name, seconds in totals.items()}


def run_config(database: str, workers: int, farm: Farm, emulator: EmulatorServer, changed: Sequence[int],
               keep: bool, timeout: float, quiet: float, trace: bool) -> dict[str, Any]:
    """One configuration, from empty database to every new post on the emulator."""
    name = f"{database} x {workers}"
    workdir = support.scratch_dir(f"instances-{database}-{workers}")
    emulator.reset()
    busy_at_start = support.wait_for_quiet(patience=quiet)
    with ExitStack() as stack:
        if database == "postgresql":
            url = stack.enter_context(support.postgres_database("instances"))
        else:
            url = f"sqlite:///{workdir / 'relay.db'}"
        engine = make_engine(url)
        stack.callback(engine.dispose)
        apply_migrations(engine)
        config = worker_config(workdir, url, emulator.base_url, farm.urls())
        env = support.relay_env(RELAY_CONFIG=str(config), **support.FAKE_X)
        nginx = farm._process.pid if farm._process else 0  # NginxFarm keeps its master process private
        before = support.cpu_snapshot([], nginx)
        traces = [workdir / f"trace-{n}.jsonl" for n in range(workers)] if trace else []
        processes = [
            stack.enter_context(support.relay_process(["worker"], env, workdir / f"worker-{n}.log",
                                                      trace=traces[n] if trace else None))
            for n in range(workers)
        ]
        pids = [p.pid for p in processes]

        baselined = select(func.count()).select_from(feeds).where(feeds.c.baseline_at.is_not(None))
        done = watch({"baselined": (lambda: count(engine, baselined), farm.count)}, timeout=timeout)
        with engine.connect() as conn:  # not min(): SQLite hands aggregates back as text
            first_row = conn.execute(select(feeds.c.created_at).order_by(feeds.c.created_at).limit(1)).scalar_one()
        baseline_s = done["baselined"] - first_row.replace(tzinfo=first_row.tzinfo or UTC).timestamp()
        after_baseline = support.cpu_snapshot(pids, nginx)
        early = len(emulator.tweets())
        time.sleep(1.0)  # let the workers go idle: the next phase starts from rest

        at_rest = support.cpu_snapshot(pids, nginx)
        farm.publish(changed)
        start = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(update(feeds).values(next_check_at=start))
        checked = select(func.count()).select_from(feeds).where(feeds.c.last_checked_at >= start)
        queued = select(func.count()).select_from(deliveries)
        reached = watch({
            "every feed checked again": (lambda: count(engine, checked), farm.count),
            "every post queued": (lambda: count(engine, queued), len(changed)),
            "every post on X": (lambda: len(emulator.state.tweets()), len(changed)),
        }, timeout=timeout)
        tweets = emulator.tweets()
        first_tweet = min(t.created_at.timestamp() for t in tweets)
        last_tweet = max(t.created_at.timestamp() for t in tweets)
        after_posts = support.cpu_snapshot(pids, nginx)
        with engine.connect() as conn:
            by_status = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            statuses: dict[str, int] = {status: n for status, n in conn.execute(by_status).all()}
            by_worker = sorted(conn.execute(select(func.count()).select_from(feeds)
                                            .where(feeds.c.last_checked_at >= start)
                                            .group_by(feeds.c.claimed_by)).scalars())
        alive = all(p.poll() is None for p in processes)
        if trace:
            time.sleep(4 * relay_traced.FLUSH_SECONDS)  # the last events reach the trace files
    breakdown = {}
    if trace:
        first = first_row.replace(tzinfo=first_row.tzinfo or UTC).timestamp()
        breakdown = {
            "baseline, ms per feed": cpu_breakdown(traces, (first, done["baselined"]), farm.count),
            "new posts, ms per post": cpu_breakdown(traces, (start.timestamp(), last_tweet), len(changed)),
        }
    errors = sum((workdir / f"worker-{n}.log").read_text(errors="replace").count("ERROR") for n in range(workers))
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)

    t0 = start.timestamp()
    links = {next(w for w in t.text.split() if w.startswith("http")).split("?")[0] for t in tweets}
    posts_s = last_tweet - t0
    return {
        "config": name,
        "database": database,
        "workers": workers,
        "machine_busy_before_start": busy_at_start,
        "baseline_s": baseline_s,
        "baseline_feeds_per_s": farm.count / baseline_s,
        "posts_s": posts_s,
        "posts_per_s": len(changed) / posts_s,
        "first_post_s": first_tweet - t0,
        "all_checked_s": reached["every feed checked again"] - t0,
        "all_queued_s": reached["every post queued"] - t0,
        "measured_round_feeds_per_s": farm.count / (reached["every feed checked again"] - t0),
        "tweets": len(tweets),
        "distinct_links": len(links),
        "tweets_before_new_posts": early,
        "delivery_statuses": statuses,
        "feeds_checked_per_worker": by_worker,
        "workers_alive_at_end": alive,
        "error_lines_in_logs": errors,
        "cpu_baseline_s": after_baseline.minus(before),
        "cpu_posts_s": after_posts.minus(at_rest),
        "trace_cpu_ms": breakdown,
    }


def parse_configs(text: str) -> list[tuple[str, int]]:
    configs = []
    for item in text.split(","):
        database, _, workers = item.strip().partition(":")
        if database not in ("sqlite", "postgresql") or not workers.isdigit() or int(workers) < 1:
            raise argparse.ArgumentTypeError(f"not DATABASE:WORKERS (sqlite:1, postgresql:3): {item!r}")
        if database == "sqlite" and int(workers) != 1:
            raise argparse.ArgumentTypeError("SQLite is one process by design: sqlite:1 only")
        configs.append((database, int(workers)))
    return configs


def best_of(runs: Sequence[dict[str, Any]], key: str) -> float:
    return max(float(run[key]) for run in runs)


def print_report(result: dict[str, Any]) -> None:
    by_config: dict[str, list[dict[str, Any]]] = {}
    for run in result["runs"]:
        by_config.setdefault(run["config"], []).append(run)
    reference = by_config.get("sqlite x 1") or next(iter(by_config.values()))
    ref_feeds, ref_posts = best_of(reference, "baseline_feeds_per_s"), best_of(reference, "posts_per_s")
    rounds = max(len(runs) for runs in by_config.values())
    print(f"# relay many instances — {result['machine']['date']}")
    for key, value in result["machine"].items():
        print(f"{key}: {value}")
    print(f"farm: {result['feeds']} feeds on nginx (~{result['feed_kb']:.0f} KB RSS, 10 items each); "
          f"{result['posts']} of them get one new post; {rounds} round(s), configurations interleaved; "
          f"figures are the best round (median in brackets), ratios of the best against {reference[0]['config']}")
    print()
    print("| configuration | baseline feeds/s | ratio | new posts: posts/s | ratio | to X, best round | "
          "of which re-checking all feeds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in by_config.items():
        feeds_best, posts_best = best_of(runs, "baseline_feeds_per_s"), best_of(runs, "posts_per_s")
        fastest = max(runs, key=lambda run: float(run["posts_per_s"]))
        feeds_median = statistics.median(float(r["baseline_feeds_per_s"]) for r in runs)
        posts_median = statistics.median(float(r["posts_per_s"]) for r in runs)
        print(f"| {name} | {feeds_best:.0f} ({feeds_median:.0f}) | {feeds_best / ref_feeds:.2f} | "
              f"{posts_best:.0f} ({posts_median:.0f}) | {posts_best / ref_posts:.2f} | {fastest['posts_s']:.1f} s | "
              f"{fastest['all_checked_s']:.1f} s |")
    print()
    print("CPU over all rounds: relay workers' CPU per feed (baseline) and per new post (re-check of every feed "
          "+ parse + post), and who else used the machine (capacity = wall time x CPUs):")
    print("| configuration | workers ms/feed | workers ms/post | PostgreSQL s | bench (emulator) s | "
          "others s | machine busy / capacity s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in by_config.items():
        total: dict[str, float] = {}
        for run in runs:
            for phase in ("cpu_baseline_s", "cpu_posts_s"):
                for party, seconds in run[phase].items():
                    total[party] = total.get(party, 0.0) + seconds
        per_feed = sum(r["cpu_baseline_s"]["relay workers"] for r in runs) * 1000 / (result["feeds"] * len(runs))
        per_post = sum(r["cpu_posts_s"]["relay workers"] for r in runs) * 1000 / (result["posts"] * len(runs))
        print(f"| {name} | {per_feed:.1f} | {per_post:.1f} | {total['PostgreSQL (all its processes)']:.1f} | "
              f"{total['benchmark process (X emulator)']:.1f} | {total['others (not this benchmark)']:.1f} | "
              f"{total['machine busy (all processes)']:.0f} / {total['machine capacity']:.0f} |")
    traced = [run for run in result["runs"] if run["trace_cpu_ms"]]
    if traced:
        steps = list(traced[0]["trace_cpu_ms"]["baseline, ms per feed"])
        print()
        print("Workers' thread CPU by step (bench/relay_traced.py; the rest is fetching, the event loop, logging):")
        print("| round | configuration | phase | " + " | ".join(steps) + " | sum |")
        print("| --- | --- | --- | " + " | ".join("---:" for _ in steps) + " | ---: |")
        for run in traced:
            for phase, row in run["trace_cpu_ms"].items():
                print(f"| {run['round']} | {run['config']} | {phase} | "
                      + " | ".join(f"{row[step]:.1f}" for step in steps) + f" | {sum(row.values()):.1f} |")
    print()
    for run in result["runs"]:
        others = sum(run[phase]["others (not this benchmark)"] for phase in ("cpu_baseline_s", "cpu_posts_s"))
        print(f"round {run['round']} {run['config']}: baseline {run['baseline_s']:.1f} s, new posts on X "
              f"{run['posts_s']:.1f} s (first {run['first_post_s']:.1f} s, all queued {run['all_queued_s']:.1f} s); "
              f"{run['tweets']} tweets, "
              f"{run['distinct_links']} distinct posts, {run['tweets_before_new_posts']} before the new posts; "
              f"deliveries {run['delivery_statuses']}; feeds re-checked per worker {run['feeds_checked_per_worker']}; "
              f"ERROR lines {run['error_lines_in_logs']}; workers alive {run['workers_alive_at_end']}; "
              f"machine {run['machine_busy_before_start']:.0%} busy before, others used {others:.1f} CPU s during it")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=600, help="feeds that get one new post (at most --feeds)")
    parser.add_argument("--configs", type=parse_configs,
                        default=parse_configs("sqlite:1,postgresql:1,postgresql:2,postgresql:3"))
    parser.add_argument("--rounds", type=int, default=3,
                        help="times each configuration runs (interleaved); the best round is reported")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per phase")
    parser.add_argument("--quiet", type=float, default=300,
                        help="seconds to wait, before each configuration, for other jobs to leave the CPUs idle")
    parser.add_argument("--json", default=None, help="where to write the results (default bench/results/)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories (worker logs)")
    parser.add_argument("--trace", action="store_true",
                        help="run the workers under bench/relay_traced.py and print where their CPU goes")
    args = parser.parse_args(argv)
    if not 0 < args.posts <= args.feeds:
        parser.error("--posts must be between 1 and --feeds")

    # the new posts spread evenly over the farm, as new posts on real blogs are
    changed = sorted({round(n * args.feeds / args.posts) % args.feeds for n in range(args.posts)})
    farmdir = support.scratch_dir("instances-farm")
    result: dict[str, Any] = {"machine": support.machine(), "feeds": args.feeds, "posts": len(changed)}
    try:
        farm = Farm(farmdir, args.feeds)
        with farm, EmulatorServer(tweet_rate_limit=100_000) as emulator:
            files = list((farmdir / "www" / "feeds").iterdir())
            result["feed_kb"] = sum(p.stat().st_size for p in files) / len(files) / 1024
            result["runs"] = []
            for round_number in range(1, args.rounds + 1):
                for database, workers in args.configs:
                    run = run_config(database, workers, farm, emulator, changed, args.keep, args.timeout, args.quiet,
                                     args.trace)
                    result["runs"].append({"round": round_number, **run})
    finally:
        shutil.rmtree(farmdir, ignore_errors=True)
    result["machine"]["load_average_at_end"] = support.load_average()
    print_report(result)
    print(f"\nresults: {support.write_json('instances', result, args.json)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
