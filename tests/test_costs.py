"""The cost ledger: every call X bills, priced as X prices it, counted against the monthly budget.

X bills a read per resource returned and not twice for the same resource in one UTC day;
reading one's own posts is an "owned read"; the alt text of an image is a billed request
(https://docs.x.com/x-api/getting-started/pricing). Posts are billed on their delivery.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from relay.adapters.x import XCredentials, XPublisher
from relay.cli.reports import report
from relay.core.policy import (
    MEDIA_METADATA,
    OWN_POSTS_READ,
    POSTS_READ,
    USER_READ,
    Caps,
    XPrices,
    gate,
    month_start,
)
from relay.store.costs import cost_lines, record_charge
from relay.store.engine import apply_migrations, make_engine
from relay.store.store import Store
from relay.testing.x_emulator import EmulatorServer

CREDENTIALS = XCredentials("ck", "cs", "at", "ats")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    apply_migrations(engine)
    yield Store(engine)
    engine.dispose()


def test_a_resource_is_charged_once_per_utc_day(store: Store) -> None:
    morning = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    charge = {"account": "default", "kind": POSTS_READ, "unit_usd": 0.005}
    assert record_charge(store.engine, resources=["1", "2"], now=morning, **charge) == pytest.approx(0.010)
    assert record_charge(store.engine, resources=["2", "3"], now=morning + timedelta(hours=20),
                         **charge) == pytest.approx(0.005), "tweet 2 was already billed today"
    assert record_charge(store.engine, resources=["2"], now=morning + timedelta(days=1), **charge) == \
        pytest.approx(0.005), "a new UTC day bills it again"
    assert record_charge(store.engine, resources=["2"], now=morning, account="client-b", kind=POSTS_READ,
                         unit_usd=0.005) == pytest.approx(0.005), "each account is billed on its own"
    for _ in range(2):  # a write has no resource: each request is billed
        assert record_charge(store.engine, account="default", kind=MEDIA_METADATA, resources=[], unit_usd=0.005,
                             now=morning) == pytest.approx(0.005)
    assert record_charge(store.engine, resources=["1"], now=morning, account="default", kind=OWN_POSTS_READ,
                         unit_usd=0.001) == 0.0, "a post read today is not billed again by another endpoint"
    lines = {line.kind: line for line in cost_lines(store.engine, account="default")}
    assert lines[POSTS_READ].count == 4 and lines[POSTS_READ].usd == pytest.approx(0.020)
    assert lines[MEDIA_METADATA].count == 2 and OWN_POSTS_READ not in lines


def test_reads_count_against_the_monthly_budget(store: Store) -> None:
    now = datetime.now(UTC)
    caps = Caps(monthly_budget_usd=0.10)
    start = month_start(now, caps.timezone)
    assert gate(now, caps, store.usage("default", now, start), cost=0.0).open
    record_charge(store.engine, account="default", kind=POSTS_READ, resources=[str(n) for n in range(20)],
                  unit_usd=0.005, now=now)
    usage = store.usage("default", now, start)
    assert usage.spent_this_month_usd == pytest.approx(0.10)
    assert not gate(now, caps, usage, cost=0.015).open, "the reads used up the budget"


def test_the_x_publisher_reports_every_billed_call(emulator_with_posts: EmulatorServer) -> None:
    billed: list[tuple[str, list[str]]] = []
    publisher = XPublisher(CREDENTIALS, api_base_url=emulator_with_posts.base_url,
                           on_billed=lambda kind, ids: billed.append((kind, list(ids))))
    listed = publisher.recent_posts(max_results=10)
    assert billed[0] == (USER_READ, [publisher.me().id])
    assert billed[1] == (OWN_POSTS_READ, [t.id for t in listed]) and len(listed) == 3
    publisher.tweet_metrics([listed[0].id])
    assert billed[-1] == (POSTS_READ, [listed[0].id])
    publisher.upload_image(PNG, "image/png", alt_text="Un radiateur purgé")
    assert billed[-1] == (MEDIA_METADATA, [])
    publisher.upload_image(PNG, "image/png")
    assert billed[-1] == (MEDIA_METADATA, []) and len(billed) == 4, "no alt text, no metadata request"


@pytest.fixture
def emulator_with_posts() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        for n in range(3):
            server.seed_tweet(f"Conseil n°{n} https://plombier-nantes.fr/conseils/{n}/")
        yield server


def test_relay_report_shows_what_x_billed(store: Store, database_url: str) -> None:
    now = datetime.now(UTC)
    prices = XPrices()
    record_charge(store.engine, account="default", kind=OWN_POSTS_READ, resources=["7", "8"],
                  unit_usd=prices.own_post_read_usd, now=now)
    record_charge(store.engine, account="default", kind=MEDIA_METADATA, resources=[],
                  unit_usd=prices.media_metadata_usd, now=now)
    env = {"RELAY_DATABASE_URL": database_url}
    text = CliRunner().invoke(report, [], obj={"config": None}, env=env)
    assert text.exit_code == 0, text.output
    assert "reading the account's own posts" in text.output and "$    0.002" in text.output
    assert "describing images (alt text)" in text.output and "$    0.007" in text.output
    data = json.loads(CliRunner().invoke(report, ["--json"], obj={"config": None}, env=env).output)
    assert {c["kind"]: c["count"] for c in data["costs"]} == {OWN_POSTS_READ: 2, MEDIA_METADATA: 1}
    assert data["costs_total_usd"] == pytest.approx(0.007)


def test_a_typical_blog_day_costs_what_x_bills(store: Store) -> None:
    """One day of a small blog: two posts with a link and a photo described for screen readers, the
    account read once, each post's engagement read, and the timeline read after a lost answer.
    relay's ledger (plus the posts' own cost) must equal what the emulator, billing as X does, took."""
    from relay.core.policy import post_cost

    now = datetime.now(UTC)
    prices = XPrices()
    with EmulatorServer(credits=100_000) as x:
        def record(kind: str, resources: list[str] | tuple[str, ...]) -> None:
            record_charge(store.engine, account="default", kind=kind, resources=list(resources),
                          unit_usd=prices.unit(kind), now=now)

        publisher = XPublisher(CREDENTIALS, api_base_url=x.base_url, on_billed=record)
        posts_usd = 0.0
        for n in (1, 2):
            text = f"Conseil n°{n} : purger ses radiateurs https://plombier-nantes.fr/conseils/{n}/"
            media = publisher.upload_image(PNG, "image/png", alt_text="Un radiateur")
            tweet_id = publisher.publish(text, [media]).tweet_id
            posts_usd += post_cost(text, Caps())
            publisher.tweet_metrics([tweet_id])
        publisher.recent_posts(since=now - timedelta(hours=1))
        publisher.tweet_metrics([t.id for t in publisher.recent_posts(max_results=5)])  # read again: not billed
        billed_by_x = sum(charge.credits for charge in x.charges()) / 1000
    ledger = cost_lines(store.engine)
    ledger_usd = sum(line.usd for line in ledger)
    print(f"\none day of a typical blog: posts ${posts_usd:.3f} + " +
          " + ".join(f"{line.kind} ×{line.count} ${line.usd:.3f}" for line in ledger) +
          f" = ${posts_usd + ledger_usd:.3f} (X billed ${billed_by_x:.3f})")
    assert {line.kind: line.count for line in ledger} == {MEDIA_METADATA: 2, POSTS_READ: 2, USER_READ: 1}, \
        "the timeline listed posts already read today: X does not bill them again"
    assert posts_usd + ledger_usd == pytest.approx(billed_by_x)
