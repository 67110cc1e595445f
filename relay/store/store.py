"""Every query relay runs, on SQLite or PostgreSQL.

One class so the service has one thing to ask; each method is one transaction, so a
crash leaves either all of a step or none of it. Uniqueness is enforced by the database
(``posts.dedup_key``, ``deliveries(post_id, variant)``), not by checking first, so two
processes racing on the same post still record it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relay.core.models import Post, Tweet
from relay.store.links import create_tracked_link, tracked_url
from relay.store.outbox import FAILED, QUEUED, REVIEW, SKIPPED, OutboxQueries, aware, queued_delivery
from relay.store.posts import post_from_json, post_to_json
from relay.store.review import ReviewQueries
from relay.store.rows import DeliveryRow, FeedRow, Message, NewPost, TrackedLink, row_to
from relay.store.schema import clicks, deliveries, delivery_attempts, feeds, posts


class Store(OutboxQueries, ReviewQueries):
    def __init__(self, engine: Engine, *, review: bool = False) -> None:
        self.engine = engine
        self.review = review
        """``[publishing] review``: every new delivery waits for the owner's approval instead of being queued.
        Decided here, where each door's deliveries are written, so no door can go around it."""
        self._configured_urls: dict[int, str] = {}

    # -- feeds ---------------------------------------------------------------------------

    def configured_url_of(self, feed_id: int) -> str:
        """The address a feed has in the config, remembered: a feed's row is found by it, so it never changes."""
        url = self._configured_urls.get(feed_id)
        if url is None:
            url = self._configured_urls[feed_id] = self.get_feed(feed_id).configured_url
        return url

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

    def active_feeds(self, now: datetime, *, only_due: bool = True) -> list[FeedRow]:
        """The active feeds (only those due at ``now``, by default): one statement, on the ``ix_feeds_due`` index."""
        query = select(feeds).where(feeds.c.status == "active")
        if only_due:
            query = query.where(or_(feeds.c.next_check_at.is_(None), feeds.c.next_check_at <= now))
        with self.engine.connect() as conn:
            return [row_to(FeedRow, row._mapping) for row in conn.execute(query.order_by(feeds.c.id))]

    def claim_feeds(
        self, feed_ids: Sequence[int], now: datetime, *, limit: int, lease: timedelta, instance: str,
        only_due: bool = True,
    ) -> list[FeedRow]:
        """Take up to ``limit`` of these feeds for this instance, under a lease.

        Many instances share one database: a feed is fetched by one of them at a time
        (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a guarded UPDATE everywhere), and a lease
        that runs out (its instance died) frees the feed for the others.
        """
        if not feed_ids:
            return []
        free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
        wanted = and_(feeds.c.id.in_(list(feed_ids)), feeds.c.status == "active", free)
        if only_due:
            wanted = and_(wanted, or_(feeds.c.next_check_at.is_(None), feeds.c.next_check_at <= now))
        chosen = select(feeds.c.id).where(wanted).order_by(feeds.c.next_check_at, feeds.c.id).limit(limit)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                chosen = chosen.with_for_update(skip_locked=True)
            # One statement: choose, lease and read back. SQLite runs it under its write lock; PostgreSQL skips
            # the rows another instance is claiming at this moment, and ``free`` is checked again on update.
            claim = (
                update(feeds).where(and_(feeds.c.id.in_(chosen.scalar_subquery()), free))
                .values(lease_until=now + lease, claimed_by=instance).returning(*feeds.c)
            )
            rows = conn.execute(claim).all()
        return [row_to(FeedRow, row._mapping) for row in rows]

    def record_feed_checks(self, checks: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Record many feeds' fetch outcomes in one transaction, one statement per shape of change.

        A round of thousands of feeds is mostly 304s, each changing the same columns: written one
        transaction each, the database's commits cost more than the checks themselves.
        """
        if not checks:
            return
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for feed_id, values in checks:
            columns = tuple(sorted(values))
            shapes.setdefault(columns, []).append({"b_id": feed_id, **{f"b_{c}": values[c] for c in columns}})
        with self.engine.begin() as conn:
            for columns, rows in shapes.items():
                statement = (
                    update(feeds).where(feeds.c.id == bindparam("b_id"))
                    .values({column: bindparam(f"b_{column}") for column in columns})
                )
                conn.execute(statement, rows)

    def release_feed_leases(self) -> int:
        """Free every feed lease: only for a sole process starting up, whose predecessor held them and died."""
        with self.engine.begin() as conn:
            return int(conn.execute(
                update(feeds).where(feeds.c.lease_until.is_not(None)).values(lease_until=None, claimed_by=None)
            ).rowcount)

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
                        is_baseline=not item.messages and not item.held,
                        published_at=item.post.published_at,
                        first_seen_at=now,
                    )
                    .returning(posts.c.id)
                )
                post_id = result.scalar_one_or_none()
                if post_id is None or not item.messages:
                    continue
                queued += self._queue_messages(conn, post_id, 0, item.messages, now, not_before=item.not_before)
        return queued

    def _queue_messages(
        self, conn: Connection, post_id: int, first_variant: int, messages: Sequence[Message], now: datetime, *,
        not_before: datetime | None = None,
    ) -> list[int]:
        """One delivery per message, numbered on from ``first_variant`` (so each has its own tracked link)."""
        ids = []
        for variant, message in enumerate(messages, start=first_variant):
            tweet = message.tweet if message.failure else _with_tracking(conn, message.tweet, message.tracking,
                                                                         post_id, variant, now)
            values = queued_delivery(post_id, variant, tweet, now, message.account, review=self.review,
                                     network=message.network)
            if message.failure:
                values.update(status=FAILED, last_error=message.failure)
            elif not_before is not None:
                values["next_attempt_at"] = not_before
            ids.append(int(conn.execute(insert(deliveries).values(**values).returning(deliveries.c.id)).scalar_one()))
        return ids

    def find_post(self, key: str, normalized_url: str) -> tuple[int, Post] | None:
        """The post recorded under this key, or else under this normalised URL."""
        with self.engine.connect() as conn:
            for condition in (posts.c.dedup_key == key, posts.c.normalized_url == normalized_url):
                row = conn.execute(select(posts.c.id, posts.c.data).where(condition).limit(1)).first()
                if row is not None:
                    return row.id, post_from_json(row.data)
        return None

    def add_variant(
        self, post_id: int, tweet: Tweet, now: datetime, *, account: str = "default",
        tracking: TrackedLink | None = None,
    ) -> int:
        """Queue another tweet for a known post (an edit, a republish), under the next variant number."""
        return self.add_messages(post_id, [Message(account, tweet, tracking=tracking)], now)[0]

    def add_messages(self, post_id: int, messages: Sequence[Message], now: datetime) -> list[int]:
        """Queue more deliveries of a known post (an edit, a republish, one per account), numbered on."""
        with self.engine.begin() as conn:
            variant = conn.execute(
                select(func.coalesce(func.max(deliveries.c.variant), -1) + 1).where(deliveries.c.post_id == post_id)
            ).scalar_one()
            return self._queue_messages(conn, post_id, int(variant), messages, now)

    def skip_queued(self, post_id: int, now: datetime, *, reason: str) -> list[int]:
        """Mark every still-queued (or still waiting for review) delivery of a post skipped; returns their ids."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(
                select(deliveries.c.id).where(and_(deliveries.c.post_id == post_id,
                                                   deliveries.c.status.in_([QUEUED, REVIEW])))
            ).scalars())
            for delivery_id in ids:
                conn.execute(update(deliveries).where(and_(deliveries.c.id == delivery_id,
                                                           deliveries.c.status.in_([QUEUED, REVIEW])))
                             .values(status=SKIPPED, updated_at=now, last_error=reason))
                conn.execute(insert(delivery_attempts).values(delivery_id=delivery_id, at=now, outcome="withdrawn",
                                                              detail=reason))
        return ids

    def feed_id_of(self, post_id: int) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(posts.c.feed_id).where(posts.c.id == post_id)).scalar_one_or_none()
        return None if value is None else int(value)

    def held_posts(self, feed_id: int) -> list[tuple[int, Post]]:
        """Posts of a feed recorded as held: not baseline, and never given a delivery."""
        has_delivery = select(deliveries.c.id).where(deliveries.c.post_id == posts.c.id).exists()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(posts.c.id, posts.c.data)
                .where(posts.c.feed_id == feed_id, posts.c.is_baseline.is_(False), ~has_delivery)
                .order_by(posts.c.published_at, posts.c.id)
            )
            return [(row.id, post_from_json(row.data)) for row in rows]

    def forget_held(self, feed_id: int) -> None:
        """Held posts become baseline: remembered, never posted."""
        ids = [post_id for post_id, _ in self.held_posts(feed_id)]
        if ids:
            with self.engine.begin() as conn:
                conn.execute(update(posts).where(posts.c.id.in_(ids)).values(is_baseline=True))

    def latest_seo_warnings(self, feed_id: int) -> list[str]:
        """What the newest tweeted post of a feed lacked for a good card on X (empty when fine)."""
        has_delivery = select(deliveries.c.id).where(deliveries.c.post_id == posts.c.id).exists()
        with self.engine.connect() as conn:
            data = conn.execute(
                select(posts.c.data).where(posts.c.feed_id == feed_id, has_delivery)
                .order_by(posts.c.id.desc()).limit(1)
            ).scalar_one_or_none()
        return list(data.get("seo_warnings") or []) if data else []

    def last_activity(self, feed_id: int) -> datetime | None:
        """The last time the blog showed a new entry or relay queued a tweet for it."""
        with self.engine.connect() as conn:
            seen = conn.execute(select(func.max(posts.c.first_seen_at)).where(posts.c.feed_id == feed_id)).scalar()
            tweeted = conn.execute(
                select(func.max(deliveries.c.created_at)).join(posts, posts.c.id == deliveries.c.post_id)
                .where(posts.c.feed_id == feed_id)
            ).scalar()
        moments = [moment for moment in (aware(seen), aware(tweeted)) if moment is not None]
        return max(moments) if moments else None

    def evergreen_candidate(self, feed_id: int, not_since: datetime) -> int | None:
        """The feed's post with the most human clicks among those tweeted and not shared since ``not_since``."""
        last_share = func.max(deliveries.c.created_at)
        human = (
            select(func.count()).select_from(clicks)
            .where(clicks.c.post_id == posts.c.id, clicks.c.human.is_(True))
            .scalar_subquery()
        )
        query = (
            select(posts.c.id)
            .join(deliveries, deliveries.c.post_id == posts.c.id)
            .where(posts.c.feed_id == feed_id)
            .group_by(posts.c.id)
            .having(func.sum(case((deliveries.c.status == "sent", 1), else_=0)) > 0)
            .having(last_share < not_since)
            .order_by(human.desc(), last_share, posts.c.id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    def has_post(self, post_id: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(posts.c.id).where(posts.c.id == post_id)).first() is not None

    def texts_of(self, post_id: int) -> list[str]:
        """Every text queued or posted for a post, oldest first."""
        with self.engine.connect() as conn:
            return list(conn.execute(
                select(deliveries.c.text).where(deliveries.c.post_id == post_id).order_by(deliveries.c.variant)
            ).scalars())

    def deliveries_of(self, post_id: int) -> list[DeliveryRow]:
        """A post's deliveries on every account, in the order they were queued."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(deliveries).where(deliveries.c.post_id == post_id)
                                .order_by(deliveries.c.variant))
            return [row_to(DeliveryRow, row._mapping) for row in rows]

    def text_of(self, delivery_id: int) -> str:
        """A delivery's text, as it will be (or was) posted."""
        with self.engine.connect() as conn:
            return str(conn.execute(select(deliveries.c.text).where(deliveries.c.id == delivery_id)).scalar_one())

    def deliveries_on(self, post_id: int, account: str, *, before_variant: int | None = None) -> int:
        """How many deliveries of a post went (or go) out on ``account`` (those before ``before_variant``)."""
        condition = and_(deliveries.c.post_id == post_id, deliveries.c.account == account)
        if before_variant is not None:
            condition = and_(condition, deliveries.c.variant < before_variant)
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(condition)).scalar_one())

    def get_post(self, post_id: int) -> Post:
        with self.engine.connect() as conn:
            data = conn.execute(select(posts.c.data).where(posts.c.id == post_id)).scalar_one()
        return post_from_json(data)

    # -- helpers -------------------------------------------------------------------------

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT that does nothing on a unique conflict, in each dialect's own words."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()


def _with_tracking(
    conn: Connection, tweet: Tweet, tracking: TrackedLink | None, post_id: int, variant: int, now: datetime
) -> Tweet:
    """The tweet itself, or (tracked mode) the tweet carrying this delivery's own tracked link."""
    if tracking is None:
        return tweet
    code = create_tracked_link(conn, post_id=post_id, delivery_variant=variant, target_url=tracking.target_url,
                               now=now)
    return tracking.compose(tracked_url(tracking.base_url, code))
