"""The store on real SQLite and real PostgreSQL: migrations, dedup, the outbox claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect

from relay.core.models import Post, Tweet
from relay.store.engine import apply_migrations, current_head, current_revision, make_engine
from relay.store.outbox import QUEUED, SENDING, SENT
from relay.store.rows import Message, NewPost
from relay.store.schema import metadata
from relay.store.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Store:
    engine = make_engine(database_url)
    apply_migrations(engine)
    yield Store(engine)
    engine.dispose()


def new_post(n: int, *, tweet: bool = True) -> NewPost:
    post = Post(url=f"https://blog.example/{n}", title=f"Post {n}", guid=f"g{n}")
    return NewPost(
        post=post,
        dedup_key=f"guid:blog.example:g{n}",
        normalized_url=f"https://blog.example/{n}",
        source="feed",
        messages=(Message("default", Tweet(text=f"Post {n} https://blog.example/{n}", link=f"https://blog.example/{n}",
                                            weighted_length=30)),) if tweet else (),
    )


def test_migrations_create_exactly_the_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    assert apply_migrations(engine)[-1] == current_head()
    assert apply_migrations(engine) == []  # idempotent
    assert current_revision(engine) == current_head()
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == {c.name for c in table.columns}, table.name
    engine.dispose()


def test_sqlite_uses_wal(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_a_post_is_recorded_once_and_queues_one_delivery(store: Store) -> None:
    feed = store.sync_feeds(["https://blog.example/feed"], NOW)[0]
    first = store.record_posts(feed.id, [new_post(1), new_post(2, tweet=False)], NOW)
    again = store.record_posts(feed.id, [new_post(1)], NOW)
    assert len(first) == 1 and again == []
    keys, urls = store.known_posts(["guid:blog.example:g1", "guid:blog.example:g9"], ["https://blog.example/2"])
    assert keys == {"guid:blog.example:g1"}
    assert urls == {"https://blog.example/2"}
    assert store.delivery_counts()[QUEUED] == 1


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    feed = store.sync_feeds(["https://blog.example/feed"], NOW)[0]
    store.update_feed(feed.id, next_check_at=NOW + timedelta(minutes=15))
    again = store.get_feed(feed.id)
    assert again.next_check_at == NOW + timedelta(minutes=15)
    assert again.next_check_at.tzinfo is not None


def test_claim_moves_due_deliveries_to_sending_once(store: Store) -> None:
    feed = store.sync_feeds(["https://blog.example/feed"], NOW)[0]
    store.record_posts(feed.id, [new_post(n) for n in range(3)], NOW)
    assert store.claim_due(NOW - timedelta(seconds=1), 10) == []  # not due yet
    claimed = store.claim_due(NOW, 2)
    assert [d.status for d in claimed] == [SENDING, SENDING]
    assert all(d.attempts == 1 for d in claimed)
    rest = store.claim_due(NOW, 10)
    assert len(rest) == 1 and rest[0].id not in {d.id for d in claimed}
    assert store.claim_due(NOW, 10) == []


def test_finish_records_state_and_attempt(store: Store) -> None:
    feed = store.sync_feeds(["https://blog.example/feed"], NOW)[0]
    store.record_posts(feed.id, [new_post(1)], NOW)
    delivery = store.claim_due(NOW, 1)[0]
    store.finish_delivery(delivery.id, status=SENT, now=NOW, outcome="sent", tweet_id="123")
    [row] = store.list_deliveries([SENT])
    assert row.tweet_id == "123" and row.sent_at == NOW
    assert [a["outcome"] for a in store.attempts_for(delivery.id)] == ["sent"]


def test_moved_feed_is_found_by_its_configured_url(store: Store) -> None:
    feed = store.sync_feeds(["https://old.example/feed"], NOW)[0]
    store.update_feed(feed.id, url="https://new.example/feed")
    [again] = store.sync_feeds(["https://old.example/feed"], NOW)
    assert again.id == feed.id and again.url == "https://new.example/feed"
