"""Every query relay runs, on SQLite or PostgreSQL.

One class so the service has one thing to ask; each method is one transaction, so a
crash leaves either all of a step or none of it. Uniqueness is enforced by the database
(``posts.dedup_key``, ``deliveries(post_id, variant)``), not by checking first, so two
processes racing on the same post still record it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relay.core.models import Post, Tweet
from relay.store.posts import post_from_json, post_to_json
from relay.store.rows import DeliveryRow, FeedRow, NewPost, row_to
from relay.store.schema import deliveries, delivery_attempts, feeds, posts

QUEUED, SENDING, SENT, FAILED, SKIPPED = "queued", "sending", "sent", "failed", "skipped"
DELIVERY_STATES = (QUEUED, SENDING, SENT, FAILED, SKIPPED)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- feeds ---------------------------------------------------------------------------

    def sync_feeds(self, urls: Iterable[str], now: datetime) -> list[FeedRow]:
        """Make sure every configured feed has a row; returns the rows for those URLs.

        A feed that moved (301) is found by its configured URL, so the config file does
        not have to be edited when a blog changes its address.
        """
        wanted = list(dict.fromkeys(urls))
        with self.engine.begin() as conn:
            known = {r.configured_url for r in conn.execute(select(feeds.c.configured_url))}
            for url in wanted:
                if url not in known:
                    conn.execute(
                        self._insert_ignore(feeds).values(
                            url=url, configured_url=url, title="", status="active", error_count=0, created_at=now
                        )
                    )
            rows = conn.execute(select(feeds).where(feeds.c.configured_url.in_(wanted)).order_by(feeds.c.id))
            return [row_to(FeedRow, r._mapping) for r in rows]

    def list_feeds(self) -> list[FeedRow]:
        with self.engine.connect() as conn:
            return [row_to(FeedRow, r._mapping) for r in conn.execute(select(feeds).order_by(feeds.c.id))]

    def get_feed(self, feed_id: int) -> FeedRow:
        with self.engine.connect() as conn:
            return row_to(FeedRow, conn.execute(select(feeds).where(feeds.c.id == feed_id)).one()._mapping)  # type: ignore[no-any-return]

    def update_feed(self, feed_id: int, **values: Any) -> None:
        """Record the outcome of a fetch (validators, schedule, errors, moved URL)."""
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))

    # -- posts ---------------------------------------------------------------------------

    def known_posts(self, keys: Sequence[str], normalized_urls: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these dedup keys and normalised URLs relay has already seen."""
        if not keys and not normalized_urls:
            return set(), set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(posts.c.dedup_key, posts.c.normalized_url).where(
                    or_(posts.c.dedup_key.in_(list(keys)), posts.c.normalized_url.in_(list(normalized_urls)))
                )
            ).all()
        return {r.dedup_key for r in rows} & set(keys), {r.normalized_url for r in rows} & set(normalized_urls)

    def record_posts(self, feed_id: int | None, items: Sequence[NewPost], now: datetime) -> list[int]:
        """Insert posts (and the delivery of each that should be posted) in one transaction.

        Returns the ids of the deliveries queued. A post another process recorded first
        is skipped silently: the unique key decides, not a prior check.
        """
        queued: list[int] = []
        with self.engine.begin() as conn:
            for item in items:
                result = conn.execute(
                    self._insert_ignore(posts)
                    .values(
                        dedup_key=item.dedup_key,
                        normalized_url=item.normalized_url,
                        feed_id=feed_id,
                        source=item.source,
                        url=item.post.url,
                        title=item.post.title,
                        data=post_to_json(item.post),
                        is_baseline=item.tweet is None,
                        published_at=item.post.published_at,
                        first_seen_at=now,
                    )
                    .returning(posts.c.id)
                )
                post_id = result.scalar_one_or_none()
                if post_id is None or item.tweet is None:
                    continue
                values = _queued_delivery(post_id, 0, item.tweet, now)
                delivery_id = conn.execute(insert(deliveries).values(**values).returning(deliveries.c.id)).scalar_one()
                queued.append(delivery_id)
        return queued

    def find_post(self, key: str, normalized_url: str) -> tuple[int, Post] | None:
        """The post recorded under this key, or else under this normalised URL."""
        with self.engine.connect() as conn:
            for condition in (posts.c.dedup_key == key, posts.c.normalized_url == normalized_url):
                row = conn.execute(select(posts.c.id, posts.c.data).where(condition).limit(1)).first()
                if row is not None:
                    return row.id, post_from_json(row.data)
        return None

    def add_variant(self, post_id: int, tweet: Tweet, now: datetime) -> int:
        """Queue another tweet for a known post (an edit, a republish), under the next variant number."""
        with self.engine.begin() as conn:
            variant = conn.execute(
                select(func.coalesce(func.max(deliveries.c.variant), -1) + 1).where(deliveries.c.post_id == post_id)
            ).scalar_one()
            return int(conn.execute(
                insert(deliveries).values(**_queued_delivery(post_id, variant, tweet, now)).returning(deliveries.c.id)
            ).scalar_one())

    def skip_queued(self, post_id: int, now: datetime, *, reason: str) -> list[int]:
        """Mark every still-queued delivery of a post skipped; returns their ids."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(
                select(deliveries.c.id).where(and_(deliveries.c.post_id == post_id, deliveries.c.status == QUEUED))
            ).scalars())
            for delivery_id in ids:
                conn.execute(update(deliveries).where(deliveries.c.id == delivery_id)
                             .values(status=SKIPPED, updated_at=now, last_error=reason))
                conn.execute(insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome="withdrawn",
                                                              detail=reason))
        return ids

    def get_post(self, post_id: int) -> Post:
        with self.engine.connect() as conn:
            data = conn.execute(select(posts.c.data).where(posts.c.id == post_id)).scalar_one()
        return post_from_json(data)

    # -- outbox --------------------------------------------------------------------------

    def claim_due(self, now: datetime, limit: int) -> list[DeliveryRow]:
        """Move up to ``limit`` due deliveries from queued to sending and return them.

        The guarded UPDATE (``status = 'queued'``) makes a claim atomic on both databases;
        PostgreSQL also skips rows another instance has locked.
        """
        query = (
            select(deliveries.c.id)
            .where(and_(deliveries.c.status == QUEUED, deliveries.c.next_attempt_at <= now))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        claimed: list[DeliveryRow] = []
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for delivery_id in conn.execute(query).scalars().all():
                won = conn.execute(
                    update(deliveries)
                    .where(and_(deliveries.c.id == delivery_id, deliveries.c.status == QUEUED))
                    .values(status=SENDING, attempts=deliveries.c.attempts + 1, updated_at=now)
                ).rowcount
                if won:
                    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
                    claimed.append(row_to(DeliveryRow, row._mapping))
        return claimed

    def finish_delivery(
        self,
        delivery_id: int,
        *,
        status: str,
        now: datetime,
        outcome: str,
        detail: str = "",
        tweet_id: str | None = None,
        dry_run: bool = False,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record an attempt's outcome and the delivery's new state, together."""
        values: dict[str, Any] = {"status": status, "updated_at": now, "last_error": detail or None}
        if status == SENT:
            values.update(tweet_id=tweet_id, dry_run=dry_run, sent_at=now, last_error=None)
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))
            conn.execute(
                insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome=outcome, detail=detail)
            )

    def list_deliveries(self, statuses: Sequence[str] | None = None) -> list[DeliveryRow]:
        query = select(deliveries).order_by(deliveries.c.id)
        if statuses:
            query = query.where(deliveries.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [row_to(DeliveryRow, r._mapping) for r in conn.execute(query)]

    def delivery_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status)).all()
        counts = dict.fromkeys(DELIVERY_STATES, 0)
        counts.update({status: count for status, count in rows})
        return counts

    def attempts_for(self, delivery_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id == delivery_id)
                .order_by(delivery_attempts.c.id)
            )
            return [dict(r._mapping) for r in rows]

    # -- helpers -------------------------------------------------------------------------

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT that does nothing on a unique conflict, in each dialect's own words."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()


def _queued_delivery(post_id: int, variant: int, tweet: Tweet, now: datetime) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "variant": variant,
        "status": QUEUED,
        "text": tweet.text,
        "link": tweet.link,
        "weighted_length": tweet.weighted_length,
        "attempts": 0,
        "next_attempt_at": now,
        "dry_run": False,
        "created_at": now,
        "updated_at": now,
    }
