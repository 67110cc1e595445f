"""Tracked links and clicks over real HTTP and real databases (SQLite and PostgreSQL).

What is checked: codes are unguessable, unique and created inside the caller's transaction;
the redirect answers from memory after the first lookup; bots, HEAD requests and repeats
within 30 s are stored but not counted; no click is lost when the server shuts down with
clicks still queued; and the reader's IP address is never written anywhere.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, MetaData, select

import relay.metrics.clicks as clicks_module
from relay.metrics.clicks import ClickEvent, ClickRecorder, ClientHasher
from relay.store.links import CODE_PATTERN, LinkTarget, create_tracked_link, find_link
from relay.store.schema import click_salts, clicks
from tests.test_bots import HUMANS, MACHINES
from tests.tracking_app import AppServer, StubRuntime, build_app, make_runtime, migrated_engine, seed_post

BROWSER = HUMANS[0]


def stored_clicks(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(clicks).order_by(clicks.c.id))]


@pytest.fixture
def runtime(database_url: str) -> StubRuntime:
    return make_runtime(database_url)


# -- codes ---------------------------------------------------------------------------------------


def test_codes_are_short_random_unique_and_reused_for_the_same_tweet(runtime: StubRuntime) -> None:
    post_id, codes = seed_post(runtime, 1, variants=3, sent=False)
    assert len(set(codes)) == 3
    assert all(CODE_PATTERN.match(code) and len(code) == 8 for code in codes)
    with runtime.store.engine.begin() as conn:
        again = create_tracked_link(conn, post_id=post_id, delivery_variant=1, target_url="https://x.example/",
                                    now=datetime.now(UTC))
    assert again == codes[1], "one tweet has one link"
    target = find_link(runtime.store.engine, codes[2])
    assert target is not None and target.delivery_variant == 2 and target.target_url.endswith("utm_content=v2")


def test_a_link_lives_and_dies_with_the_callers_transaction(runtime: StubRuntime) -> None:
    post_id, _ = seed_post(runtime, 1, sent=False)
    engine = runtime.store.engine
    with pytest.raises(RuntimeError), engine.begin() as conn:
        code = create_tracked_link(conn, post_id=post_id, delivery_variant=7, target_url="https://b.example/",
                                   now=datetime.now(UTC))
        raise RuntimeError("the caller's transaction fails after the link was made")
    assert find_link(engine, code) is None


def test_a_code_collision_draws_again_instead_of_failing(runtime: StubRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    post_id, codes = seed_post(runtime, 1, sent=False)
    draws = iter([codes[0], codes[0], "Fresh123"])
    monkeypatch.setattr("relay.store.links.new_code", lambda: next(draws))
    with runtime.store.engine.begin() as conn:
        code = create_tracked_link(conn, post_id=post_id, delivery_variant=5, target_url="https://c.example/",
                                   now=datetime.now(UTC))
    assert code == "Fresh123"


# -- the redirect ----------------------------------------------------------------------------


def test_redirect_answers_302_and_counts_one_human_click(runtime: StubRuntime) -> None:
    post_id, codes = seed_post(runtime, 1)
    app = build_app(runtime)
    with AppServer(app) as server:
        answer = httpx.get(f"{server.base_url}/r/{codes[0]}",
                           headers={"User-Agent": BROWSER, "Referer": "https://t.co/AbCdEf?x=secret"})
        assert answer.status_code == 302
        assert answer.headers["location"].endswith("utm_campaign=post-1&utm_content=v0")
        assert "no-store" in answer.headers["cache-control"]
    [click] = stored_clicks(runtime.store.engine)
    assert click["post_id"] == post_id and click["delivery_variant"] == 0
    assert click["human"] is True and click["reason"] is None and click["ua_class"] == "human"
    assert click["referrer_host"] == "t.co", "only the referring site is kept, not its path or query"
    assert click["method"] == "GET" and click["clicked_at"] is not None


def test_bots_head_and_quick_repeats_are_stored_but_not_counted(runtime: StubRuntime) -> None:
    _, codes = seed_post(runtime, 1)
    app = build_app(runtime)
    with AppServer(app) as server, httpx.Client(base_url=server.base_url) as client:
        for agent, _kind, _name in MACHINES:
            assert client.get(f"/r/{codes[0]}", headers={"User-Agent": agent}).status_code == 302
        assert client.get(f"/r/{codes[0]}", headers={"User-Agent": ""}).status_code == 302
        assert client.head(f"/r/{codes[0]}", headers={"User-Agent": BROWSER}).status_code == 302
        assert client.get(f"/r/{codes[0]}", headers={"User-Agent": BROWSER}).status_code == 302
        assert client.get(f"/r/{codes[0]}", headers={"User-Agent": BROWSER}).status_code == 302
    rows = stored_clicks(runtime.store.engine)
    assert len(rows) == len(MACHINES) + 4, "every request is stored"
    bots = rows[: len(MACHINES) + 1]
    assert all(r["reason"] == "bot" and r["human"] is False for r in bots)
    assert [r["ua_name"] for r in bots[:-1]] == [name for _a, _k, name in MACHINES]
    assert [r["reason"] for r in rows[-3:]] == ["head", None, "repeat"]
    assert sum(1 for r in rows if r["human"]) == 1


def test_repeats_count_again_after_30_seconds(runtime: StubRuntime) -> None:
    _, codes = seed_post(runtime, 1)
    target = find_link(runtime.store.engine, codes[0])
    assert target is not None
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def event(seconds: float, ip: str = "198.51.100.7", agent: str = BROWSER) -> ClickEvent:
        return ClickEvent(target, start + timedelta(seconds=seconds), "GET", ip, agent, "")

    async def run() -> None:
        recorder = ClickRecorder(runtime.store.engine)
        for e in (event(0), event(10), event(29), event(60), event(61, ip="198.51.100.8"),
                  event(62, agent=HUMANS[1]), event(95)):
            recorder.submit(e)
        await recorder.flush()

    asyncio.run(run())
    reasons = [r["reason"] for r in stored_clicks(runtime.store.engine)]
    # 10 s and 29 s are repeats; 60 s is 31 s after the last fetch; another address is another
    # reader, another browser from the same address is not (tests/security, row 8); 95 s is 33 s
    # after the last fetch (62 s).
    assert reasons == [None, "repeat", "repeat", None, None, "repeat", None]


def test_unknown_and_malformed_codes_get_a_small_404_page(runtime: StubRuntime) -> None:
    app = build_app(runtime)
    with AppServer(app) as server:
        for path in ("/r/Zz9Zz9Zz", "/r/%3Cscript%3E", "/r/" + "a" * 40):
            answer = httpx.get(server.base_url + path)
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
            assert "Link not found" in answer.text and "Lien introuvable" in answer.text
            assert "Traceback" not in answer.text and "<script>" not in answer.text
    assert stored_clicks(runtime.store.engine) == []


def test_the_hot_path_reads_the_database_once_per_code(runtime: StubRuntime) -> None:
    _, codes = seed_post(runtime, 1)
    app = build_app(runtime)
    with AppServer(app) as server, httpx.Client(base_url=server.base_url) as client:
        for _ in range(50):
            client.get(f"/r/{codes[0]}", headers={"User-Agent": BROWSER})
        for _ in range(5):
            client.get("/r/Unknown1")
    assert app.state.tracking.links.lookups == 2, "one lookup for the known code, one for the unknown one"


# -- no loss ---------------------------------------------------------------------------------


def test_many_concurrent_redirects_then_shutdown_lose_no_click(runtime: StubRuntime) -> None:
    """The writer flushes rarely here, so most clicks are still queued when shutdown begins."""
    _, codes = seed_post(runtime, 1, variants=2)
    app = build_app(runtime, flush_interval=30.0, batch_size=100_000)
    total = 800

    async def hammer(base_url: str) -> list[int]:
        """16 clients at once, each sending its share of requests back to back."""
        statuses: list[int] = []

        async def reader(client: httpx.AsyncClient, numbers: range) -> None:
            for n in numbers:
                answer = await client.get(f"/r/{codes[n % 2]}", headers={"User-Agent": HUMANS[n % len(HUMANS)]})
                statuses.append(answer.status_code)

        async with httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=16), timeout=30) as client:
            await asyncio.gather(*(reader(client, range(k, total, 16)) for k in range(16)))
        return statuses

    server = AppServer(app).__enter__()
    try:
        statuses = asyncio.run(hammer(server.base_url))
        assert app.state.tracking.clicks.depth > 0, "clicks should still be queued before shutdown"
    finally:
        server.stop()
    assert statuses == [302] * total
    assert len(stored_clicks(runtime.store.engine)) == total
    assert app.state.tracking.clicks.depth == 0


def test_a_failed_write_keeps_the_batch_and_writes_it_later(runtime: StubRuntime,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, codes = seed_post(runtime, 1)
    target = find_link(runtime.store.engine, codes[0])
    assert isinstance(target, LinkTarget)
    real_insert = clicks_module.insert_clicks
    failures = iter([True])

    def flaky(engine: Engine, rows: list[dict[str, object]]) -> None:
        if next(failures, False):
            raise OSError("database went away")
        real_insert(engine, rows)

    monkeypatch.setattr(clicks_module, "insert_clicks", flaky)

    async def run() -> None:
        recorder = ClickRecorder(runtime.store.engine)
        for n in range(5):
            recorder.submit(ClickEvent(target, datetime.now(UTC), "GET", f"192.0.2.{n}", BROWSER, ""))
        with pytest.raises(OSError):
            await recorder.flush()
        assert recorder.depth == 5 and recorder.write_errors == 1
        await recorder.stop()
        assert recorder.depth == 0

    asyncio.run(run())
    rows = stored_clicks(runtime.store.engine)
    assert len(rows) == 5 and all(r["human"] for r in rows), "a retried batch is not judged twice"


# -- privacy ---------------------------------------------------------------------------------


def test_the_ip_address_is_never_stored(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    _, codes = seed_post(runtime, 1)
    address = "203.0.113.77"
    app = build_app(runtime)
    with AppServer(app) as server:  # uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind a proxy
        for agent in (BROWSER, "Twitterbot/1.0"):
            answer = httpx.get(f"{server.base_url}/r/{codes[0]}",
                               headers={"User-Agent": agent, "X-Forwarded-For": address})
            assert answer.status_code == 302
    engine = runtime.store.engine
    rows = stored_clicks(engine)
    assert len(rows) == 2
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert not any(address in str(value) for value in row), f"{table.name} holds the address"
    engine.dispose()
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    for path in database.parent.glob(database.name + "*"):
        assert address.encode() not in path.read_bytes(), f"{path.name} holds the address"


def test_the_salt_is_random_per_day_and_yesterdays_is_deleted(database_url: str) -> None:
    engine = migrated_engine(database_url)
    day_one = datetime(2026, 11, 25, 23, 59, tzinfo=UTC)
    day_two = day_one + timedelta(minutes=2)
    hasher = ClientHasher(engine)
    hasher.load_salts([day_one])
    first = hasher.client_hash("198.51.100.7", BROWSER, day_one)
    other_process = ClientHasher(engine)
    other_process.load_salts([day_one])
    assert other_process.client_hash("198.51.100.7", BROWSER, day_one) == first, "shared by processes"
    hasher.load_salts([day_two])
    assert hasher.client_hash("198.51.100.7", BROWSER, day_two) != first, "a new day, a new salt"
    with engine.connect() as conn:
        days = list(conn.execute(select(click_salts.c.day)).scalars())
        salts = list(conn.execute(select(click_salts.c.salt)).scalars())
    assert days == ["2026-11-26"], "the previous day's salt is gone"
    # A random 32-byte salt, not something made from the day (a random hex string may well contain "2026").
    assert len(salts[0]) == 64 and int(salts[0], 16) >= 0 and "2026-11-26" not in salts[0]
    assert len(first) == 32
    engine.dispose()


def test_concurrent_misses_on_one_code_cost_one_query(runtime: StubRuntime) -> None:
    from relay.store.links import LinkCache

    _, codes = seed_post(runtime, 1)
    cache = LinkCache(runtime.store.engine)

    async def run() -> list[LinkTarget | None]:
        return await asyncio.gather(*(cache.resolve(codes[0]) for _ in range(50)))

    targets = asyncio.run(run())
    assert cache.lookups == 1 and len({t.link_id for t in targets if t}) == 1 and all(targets)
