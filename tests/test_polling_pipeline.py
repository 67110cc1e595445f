"""The polling round at agency scale: no batch barrier, a per-host limit, batched writes, parsing on every core.

Real HTTP servers (several, on different loopback addresses, as blogs live on different
hosts), a real SQLite store, the real poller. Nothing here is timed: each behaviour is shown
by what the servers saw and what the database was asked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from relay.adapters.feed_parser import parse_feed
from relay.config.settings import Settings
from relay.errors import FeedParseError
from relay.pipeline.parsing import POOL_FROM_FEEDS, FeedParsers, processes_for
from relay.store.engine import apply_migrations
from relay.store.schema import feeds
from relay.wiring import Runtime, build_runtime
from tests.feed_server import FeedServer
from tests.feeds import rss_feed


def runtime_for(tmp_path: Path, urls: list[str], **polling: object) -> Runtime:
    settings = Settings.model_validate({
        "database": {"url": f"sqlite:///{tmp_path / 'relay.db'}"},
        "polling": {"fetch_pages": False, "max_age_days": 3650, **polling},
        "fetch": {"images": False},
        "feeds": [{"url": url} for url in urls],
    })
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)
    return runtime


def run_round(runtime: Runtime) -> list:
    async def round_then_close() -> list:
        try:
            return await runtime.poller.poll(datetime.now(UTC), only_due=False)
        finally:
            await runtime.aclose()

    return asyncio.run(round_then_close())


@pytest.fixture
def hosts() -> Iterator[list[FeedServer]]:
    """Three blog hosts: 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback on Linux)."""
    with ExitStack() as stack:
        try:
            yield [stack.enter_context(FeedServer(host=f"127.0.0.{n}")) for n in (1, 2, 3)]
        except OSError as exc:  # pragma: no cover - a system without the whole 127/8 on loopback
            pytest.skip(f"cannot listen on 127.0.0.2 and 127.0.0.3 here ({exc})")


def test_a_slow_feed_never_holds_back_the_rest_of_the_round(tmp_path: Path) -> None:
    """The old poller claimed a batch and waited for its slowest feed before claiming the next."""
    held = threading.Event()
    with FeedServer() as server:
        server.set("/slow/", body=rss_feed(range(1, 3)), gate=held)
        urls = [server.url("/slow/")]
        for n in range(60):
            server.set(f"/f{n}/", body=rss_feed(range(1, 3), host=f"blog{n}.fr"))
            urls.append(server.url(f"/f{n}/"))
        runtime = runtime_for(tmp_path, urls, concurrency=3, per_host=3)

        def release_when_the_rest_is_fetched() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if len({r.path for r in server.requests if r.path != "/slow/"}) == 60:
                    break
                time.sleep(0.02)
            fetched_while_held.append(len({r.path for r in server.requests if r.path != "/slow/"}))
            held.set()

        fetched_while_held: list[int] = []
        releaser = threading.Thread(target=release_when_the_rest_is_fetched)
        releaser.start()
        outcomes = run_round(runtime)
        releaser.join()
    assert fetched_while_held == [60], "every other feed is fetched while the slow one is still in flight"
    assert len(outcomes) == 61 and not [o.error for o in outcomes if o.error]


def test_no_host_gets_more_than_its_share_while_the_round_uses_its_whole_concurrency(
    tmp_path: Path, hosts: list[FeedServer]
) -> None:
    gate = threading.Event()
    urls = []
    for number, server in enumerate(hosts):
        for n in range(12):
            server.set(f"/b{n}/", body=rss_feed(range(1, 3), host=f"b{n}.site{number}.fr"), gate=gate)
            urls.append(server.url(f"/b{n}/"))
    runtime = runtime_for(tmp_path, urls, concurrency=9, per_host=2)
    opener = threading.Thread(target=lambda: (_wait_until(lambda: sum(s.in_flight for s in hosts) >= 6), gate.set()))
    opener.start()
    outcomes = run_round(runtime)
    opener.join()
    assert len(outcomes) == 36 and not [o.error for o in outcomes if o.error]
    assert [server.peak_in_flight for server in hosts] == [2, 2, 2]


def test_the_unchanged_feeds_of_a_round_are_written_in_one_transaction(tmp_path: Path) -> None:
    with FeedServer() as server:
        urls = []
        for n in range(40):
            server.set(f"/f{n}/", body=rss_feed(range(1, 3), host=f"blog{n}.fr"), etag=True)
            urls.append(server.url(f"/f{n}/"))
        run_round(runtime_for(tmp_path, urls, concurrency=5))  # first look: every feed parsed
        runtime = runtime_for(tmp_path, urls, concurrency=5)
        commits: list[int] = []
        updates: list[str] = []
        reads: list[str] = []
        event.listen(runtime.store.engine, "commit", lambda conn: commits.append(1))
        event.listen(runtime.store.engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *args: updates.append(statement)
                     if statement.lstrip().upper().startswith("UPDATE FEEDS") else None)
        event.listen(runtime.store.engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *args: reads.append(statement)
                     if statement.lstrip().upper().startswith("SELECT") and "FROM feeds" in statement else None)

        async def two_rounds() -> list:
            await runtime.poller.poll(datetime.now(UTC), only_due=False)  # writes the config's feeds, once
            commits.clear(), updates.clear(), reads.clear()
            try:
                return await runtime.poller.poll(datetime.now(UTC), only_due=False)  # a round as any other
            finally:
                await runtime.aclose()

        outcomes = asyncio.run(two_rounds())
    assert all(o.not_modified for o in outcomes) and len(outcomes) == 40
    claims = [s for s in updates if "RETURNING" in s.upper()]
    records = [s for s in updates if "RETURNING" not in s.upper()]
    assert len(records) == 1, "40 unchanged feeds: one UPDATE, run for all of them (executemany)"
    # One commit per claim and one for the records: never one per feed.
    assert len(commits) == len(claims) + 1 < 40
    assert len(reads) == 1, "which feeds are due: one statement"
    assert _leases(runtime_for(tmp_path, urls)) == {None}


def test_a_claim_is_one_statement(tmp_path: Path) -> None:
    with FeedServer() as server:
        urls = [server.url(f"/f{n}/") for n in range(30)]
        runtime = runtime_for(tmp_path, urls)
        rows = runtime.store.sync_feeds(urls, datetime.now(UTC))
        statements: list[str] = []
        event.listen(runtime.store.engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *args: statements.append(statement))
        now = datetime.now(UTC)
        claimed = runtime.store.claim_feeds([r.id for r in rows], now, limit=25, lease=timedelta(minutes=5),
                                            instance="a")
        again = runtime.store.claim_feeds([r.id for r in rows], now, limit=25, lease=timedelta(minutes=5),
                                          instance="b")
    assert len(statements) == 2
    assert len(claimed) == 25 and len(_leases(runtime, "a")) == 1 and len(_leases(runtime, "b")) == 1
    assert len(again) == 5 and not {f.id for f in again} & {f.id for f in claimed}


def _leases(runtime: Runtime, instance: str | None = None) -> set[object]:
    """The distinct lease ends held (by ``instance``, or by anyone and no one)."""
    query = select(feeds.c.lease_until)
    if instance is not None:
        query = query.where(feeds.c.claimed_by == instance)
    with runtime.store.engine.connect() as conn:
        return set(conn.execute(query).scalars())


def test_a_big_install_parses_in_a_process_pool_and_a_small_one_in_a_thread() -> None:
    cores = len(os.sched_getaffinity(0))
    assert processes_for(None, POOL_FROM_FEEDS - 1) == 0
    assert processes_for(None, POOL_FROM_FEEDS) == (cores if cores > 1 else 0)
    assert processes_for(3, 1) == 3 and processes_for(0, 10_000) == 0


def test_the_pool_parses_like_a_thread_and_keeps_the_hostile_input_caps() -> None:
    body = rss_feed(range(1, 6))
    parsers = FeedParsers(2)
    try:
        in_pool = asyncio.run(parsers.parse(body, url="https://blog.example/feed/", headers={}))
        assert in_pool == parse_feed(body, url="https://blog.example/feed/", headers={})
        hostile = b"<rss><channel>" + b"<x/>" * 2_000_000 + b"</channel></rss>"
        with pytest.raises(FeedParseError, match="tags, more than"):
            asyncio.run(parsers.parse(hostile, url="https://blog.example/feed/", headers={}))
    finally:
        parsers.close()


def test_a_parser_process_that_dies_fails_one_feed_and_the_next_parse_works() -> None:
    body = rss_feed(range(1, 3))
    parsers = FeedParsers(1)
    try:
        async def scenario() -> None:
            await parsers.parse(body, url="https://blog.example/feed/", headers={})
            pool = parsers._executor()
            for pid in list(pool._processes):  # type: ignore[attr-defined]
                os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
            _wait_until(lambda: getattr(pool, "_broken", False))
            with pytest.raises(FeedParseError, match="parser process stopped"):
                await parsers.parse(body, url="https://blog.example/feed/", headers={})
            document = await parsers.parse(body, url="https://blog.example/feed/", headers={})
            assert len(document.posts) == 2

        asyncio.run(scenario())
    finally:
        parsers.close()


def test_a_round_with_parser_processes_records_what_a_threaded_round_does(tmp_path: Path) -> None:
    with FeedServer() as server:
        urls = []
        for n in range(8):
            server.set(f"/f{n}/", body=rss_feed(range(1, 4), host=f"blog{n}.fr"))
            urls.append(server.url(f"/f{n}/"))
        (tmp_path / "threads").mkdir()
        (tmp_path / "pool").mkdir()
        threaded = run_round(runtime_for(tmp_path / "threads", urls, parse_processes=0))
        pooled_runtime = runtime_for(tmp_path / "pool", urls, parse_processes=2)
        assert pooled_runtime.poller.parsers.processes == 2
        pooled = run_round(pooled_runtime)
    assert sorted((o.feed_url, o.new, o.error) for o in pooled) == sorted((o.feed_url, o.new, o.error)
                                                                           for o in threaded)
    assert sum(o.new for o in pooled) == 24


def _wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


_PARSING_CHILD = """
import asyncio, sys, time
from multiprocessing import forkserver
from relay.pipeline.parsing import FeedParsers
from tests.feeds import rss_feed

parsers = FeedParsers(2)
async def main():
    await asyncio.gather(*(parsers.parse(rss_feed(range(1, 3)), url="https://blog.example/feed/", headers={})
                           for _ in range(4)))
asyncio.run(main())
pids = list(parsers._pool._processes) + [forkserver._forkserver._forkserver_pid]
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)
"""


def test_parser_processes_leave_when_relay_is_killed() -> None:
    """SIGKILL (or the OOM killer) gives relay no chance to stop its parsers: they must notice and leave."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _PARSING_CHILD], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[1])
    try:
        assert child.stdout is not None
        pids = [int(pid) for pid in child.stdout.readline().split()]
        assert len(pids) == 3 and all(_running(pid) for pid in pids)
    finally:
        child.kill()
        child.wait()
    _wait_until(lambda: not any(_running(pid) for pid in pids), timeout=30)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's wait is missing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
