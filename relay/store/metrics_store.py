"""Every query on clicks, salts and engagement snapshots, and the counts reports read.

Kept apart from :mod:`relay.store.store` (the outbox) because it has a different
rhythm: clicks arrive in batches from a background writer, snapshots from a schedule,
and reports only read. Each function is one short transaction on a connection of its
own, so none holds a lock while the web server waits.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from relay.store.schema import (
    click_salts,
    clicks,
    deliveries,
    delivery_attempts,
    engagement_snapshots,
    feeds,
    links,
    posts,
    x_costs,
)

SENT = "sent"
NOT_X_ERRORS = ("sent", "dry_run", "withdrawn")
"""Attempt outcomes that are not an error answered by X."""


def _insert_ignore(engine: Engine, table: Any) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


# -- clicks ------------------------------------------------------------------------------------


def salt_for_day(engine: Engine, day: str, now: datetime) -> str:
    """The salt that hashes click addresses on ``day``, drawn once and shared by every process.

    Salts of earlier days are deleted in the same transaction: once a day is over, nobody
    (not even whoever holds the database) can recompute which address made a click.
    """
    with engine.begin() as conn:
        conn.execute(_insert_ignore(engine, click_salts).values(day=day, salt=secrets.token_hex(32), created_at=now))
        conn.execute(delete(click_salts).where(click_salts.c.day < day))
        return str(conn.execute(select(click_salts.c.salt).where(click_salts.c.day == day)).scalar_one())


def insert_clicks(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Write a batch of clicks in one transaction (one ``executemany``)."""
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(clicks), list(rows))


def count_clicks(engine: Engine) -> dict[str, int]:
    """``{"human": n, "bot": n, "head": n, "repeat": n}``: stored clicks by why they (don't) count."""
    with engine.connect() as conn:
        rows = conn.execute(select(clicks.c.reason, func.count()).group_by(clicks.c.reason)).all()
    counts = {"human": 0, "bot": 0, "head": 0, "repeat": 0}
    for reason, count in rows:
        counts[reason or "human"] = counts.get(reason or "human", 0) + int(count)
    return counts


def click_totals(engine: Engine, post_ids: Sequence[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """``{(post_id, variant): (human clicks, other clicks)}``."""
    if not post_ids:
        return {}
    query = (
        select(clicks.c.post_id, clicks.c.delivery_variant, clicks.c.human, func.count())
        .where(clicks.c.post_id.in_(list(post_ids)))
        .group_by(clicks.c.post_id, clicks.c.delivery_variant, clicks.c.human)
    )
    totals: dict[tuple[int, int], tuple[int, int]] = {}
    with engine.connect() as conn:
        for post_id, variant, human, count in conn.execute(query):
            humans, others = totals.get((post_id, variant), (0, 0))
            totals[(post_id, variant)] = (humans + int(count), others) if human else (humans, others + int(count))
    return totals


def _day_of(engine: Engine, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in each dialect's words."""
    if engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite holds naive UTC text


def daily_human_clicks(engine: Engine, since: datetime, post_id: int | None = None) -> dict[date, int]:
    """Human clicks per UTC day since ``since``, overall or for one post."""
    day = _day_of(engine, clicks.c.clicked_at)
    conditions = [clicks.c.human.is_(True), clicks.c.clicked_at >= since]
    if post_id is not None:
        conditions.append(clicks.c.post_id == post_id)
    query = select(day, func.count()).where(and_(*conditions)).group_by(day)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {_as_date(value): int(count) for value, count in rows}


def daily_human_clicks_by_post(engine: Engine, since: datetime, post_ids: Sequence[int]) -> dict[int, dict[date, int]]:
    """Human clicks per post and UTC day since ``since``, in one query."""
    if not post_ids:
        return {}
    day = _day_of(engine, clicks.c.clicked_at)
    query = (
        select(clicks.c.post_id, day, func.count())
        .where(and_(clicks.c.human.is_(True), clicks.c.clicked_at >= since, clicks.c.post_id.in_(list(post_ids))))
        .group_by(clicks.c.post_id, day)
    )
    by_post: dict[int, dict[date, int]] = {}
    with engine.connect() as conn:
        for post_id, value, count in conn.execute(query):
            by_post.setdefault(post_id, {})[_as_date(value)] = int(count)
    return by_post


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# -- engagement snapshots ----------------------------------------------------------------------


@dataclass(frozen=True)
class SentTweet:
    """A relayed tweet whose engagement schedule is not finished yet."""

    delivery_id: int
    tweet_id: str
    sent_at: datetime
    checkpoints_taken: frozenset[str]
    account: str = "default"
    """The X account that posted it: only its own credentials see the private counters."""


def tweets_to_watch(engine: Engine, final_checkpoint: str) -> list[SentTweet]:
    """Real (not dry-run) sent tweets that still lack the ``final_checkpoint`` snapshot."""
    finished = select(engagement_snapshots.c.delivery_id).where(engagement_snapshots.c.checkpoint == final_checkpoint)
    query = select(deliveries.c.id, deliveries.c.tweet_id, deliveries.c.sent_at, deliveries.c.account).where(
        and_(
            deliveries.c.status == SENT,
            deliveries.c.dry_run.is_(False),
            deliveries.c.tweet_id.is_not(None),
            deliveries.c.sent_at.is_not(None),
            deliveries.c.id.not_in(finished),
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        taken: dict[int, set[str]] = {}
        if ids:
            snaps = conn.execute(
                select(engagement_snapshots.c.delivery_id, engagement_snapshots.c.checkpoint).where(
                    engagement_snapshots.c.delivery_id.in_(ids)
                )
            )
            for delivery_id, checkpoint in snaps:
                taken.setdefault(delivery_id, set()).add(checkpoint)
    return [SentTweet(r.id, str(r.tweet_id), r.sent_at, frozenset(taken.get(r.id, ())), r.account) for r in rows]


def save_snapshots(engine: Engine, rows: Iterable[dict[str, Any]]) -> int:
    """Store snapshots; one per (tweet, checkpoint), a second attempt is ignored."""
    batch = list(rows)
    if not batch:
        return 0
    with engine.begin() as conn:
        for row in batch:
            conn.execute(_insert_ignore(engine, engagement_snapshots).values(**row))
    return len(batch)


def latest_snapshots(engine: Engine, delivery_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The newest snapshot that found its tweet, per delivery."""
    if not delivery_ids:
        return {}
    query = (
        select(engagement_snapshots)
        .where(
            and_(
                engagement_snapshots.c.delivery_id.in_(list(delivery_ids)),
                engagement_snapshots.c.found.is_(True),
            )
        )
        .order_by(engagement_snapshots.c.taken_at, engagement_snapshots.c.id)
    )
    latest: dict[int, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            latest[row.delivery_id] = dict(row._mapping)
    return latest


def snapshots_of(engine: Engine, delivery_ids: Sequence[int]) -> list[dict[str, Any]]:
    if not delivery_ids:
        return []
    query = (
        select(engagement_snapshots)
        .where(engagement_snapshots.c.delivery_id.in_(list(delivery_ids)))
        .order_by(engagement_snapshots.c.delivery_id, engagement_snapshots.c.taken_at)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


# -- what reports read -------------------------------------------------------------------------


def delivered_posts(
    engine: Engine, *, since: datetime | None = None, post_id: int | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Posts that have at least one delivery, newest first, with all their deliveries.

    One row per delivery (post columns repeated), ordered so a post's tweets are together.
    """
    with_delivery = select(deliveries.c.post_id).distinct()
    post_query = select(posts.c.id).where(posts.c.id.in_(with_delivery))
    if since is not None:
        post_query = post_query.where(posts.c.first_seen_at >= since)
    if post_id is not None:
        post_query = post_query.where(posts.c.id == post_id)
    post_query = post_query.order_by(posts.c.first_seen_at.desc(), posts.c.id.desc())
    if limit is not None:
        post_query = post_query.limit(limit)
    with engine.connect() as conn:
        ids = list(conn.execute(post_query).scalars())
        if not ids:
            return []
        rows = conn.execute(
            select(
                posts.c.id.label("post_id"),
                posts.c.title,
                posts.c.url,
                posts.c.feed_id,
                posts.c.source,
                posts.c.published_at,
                posts.c.first_seen_at,
                deliveries.c.id.label("delivery_id"),
                deliveries.c.variant,
                deliveries.c.status,
                deliveries.c.link,
                deliveries.c.text,
                deliveries.c.tweet_id,
                deliveries.c.dry_run,
                deliveries.c.sent_at,
                deliveries.c.last_error,
                deliveries.c.account,
                deliveries.c.network,
                deliveries.c.remote_url,
                links.c.code,
                links.c.target_url,
            )
            .join(deliveries, deliveries.c.post_id == posts.c.id)
            .outerjoin(
                links,
                and_(links.c.post_id == deliveries.c.post_id, links.c.delivery_variant == deliveries.c.variant),
            )
            .where(posts.c.id.in_(ids))
        ).all()
    order = {pid: n for n, pid in enumerate(ids)}
    return sorted((dict(r._mapping) for r in rows), key=lambda r: (order[r["post_id"]], r["variant"]))


def x_errors_by_outcome(engine: Engine) -> dict[str, int]:
    """Delivery attempts X answered with an error, by outcome (rate_limited, rejected, ...)."""
    query = (
        select(delivery_attempts.c.outcome, func.count())
        .where(delivery_attempts.c.outcome.not_in(NOT_X_ERRORS))
        .group_by(delivery_attempts.c.outcome)
    )
    with engine.connect() as conn:
        return {outcome: int(count) for outcome, count in conn.execute(query)}


DELIVERY_STATES = ("queued", "sending", "sent", "failed", "skipped")


def delivery_counts(engine: Engine) -> dict[str, int]:
    """Deliveries by state, every state present (zero when empty)."""
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    with engine.connect() as conn:
        for state, count in conn.execute(select(deliveries.c.status, func.count()).group_by(deliveries.c.status)):
            counts[state] = int(count)
    return counts


def posts_relayed(engine: Engine) -> int:
    """Posts with at least one tweet really posted (not dry-run)."""
    query = select(func.count(func.distinct(deliveries.c.post_id))).where(
        and_(deliveries.c.status == SENT, deliveries.c.dry_run.is_(False))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def spending_by_account(engine: Engine, since: datetime) -> dict[str, tuple[int, float, float]]:
    """Per X account since ``since``: real tweets posted, what X billed for them (``deliveries.cost_usd``),
    and what it billed besides (reads, media metadata: the ``x_costs`` ledger)."""
    posts = (
        select(deliveries.c.account, func.count(), func.coalesce(func.sum(deliveries.c.cost_usd), 0.0))
        .where(and_(deliveries.c.status == SENT, deliveries.c.dry_run.is_(False), deliveries.c.sent_at >= since))
        .group_by(deliveries.c.account)
    )
    others = (
        select(x_costs.c.account, func.coalesce(func.sum(x_costs.c.amount_usd), 0.0))
        .where(x_costs.c.at >= since).group_by(x_costs.c.account)
    )
    with engine.connect() as conn:
        spent = {account: (int(count), float(usd or 0.0), 0.0) for account, count, usd in conn.execute(posts)}
        for account, usd in conn.execute(others):
            count, on_posts, _ = spent.get(account, (0, 0.0, 0.0))
            spent[account] = (count, on_posts, float(usd or 0.0))
    return spent


REACTIONS = {"likes": "likes", "reposts": "retweets", "replies": "replies", "quotes": "quotes"}
"""The reactions reported per network, and the snapshot column each is stored in (a boost is a ``retweets``)."""


@dataclass(frozen=True)
class NetworkFigures:
    """One network's totals over every delivery: what Prometheus shows."""

    posts_sent: int = 0
    human_clicks: int = 0
    reactions: dict[str, int] | None = None
    """``{"likes": n, "reposts": n, "replies": n, "quotes": n}`` from each post's newest snapshot; None: none read."""


def figures_by_network(engine: Engine) -> dict[str, NetworkFigures]:
    """Per network: posts really sent, human clicks on their tracked links, and their reactions.

    Clicks are joined to deliveries by (post, variant): each delivery has its own tracked link,
    so a click belongs to exactly one network. Reactions add up each delivery's newest snapshot
    that found its post (the highest id: snapshots are written in the order they are taken).
    """
    sent = (
        select(deliveries.c.network, func.count())
        .where(and_(deliveries.c.status == SENT, deliveries.c.dry_run.is_(False)))
        .group_by(deliveries.c.network)
    )
    human = (
        select(deliveries.c.network, func.count())
        .select_from(clicks.join(deliveries, and_(deliveries.c.post_id == clicks.c.post_id,
                                                  deliveries.c.variant == clicks.c.delivery_variant)))
        .where(clicks.c.human.is_(True))
        .group_by(deliveries.c.network)
    )
    newest = (
        select(func.max(engagement_snapshots.c.id).label("id"))
        .where(engagement_snapshots.c.found.is_(True))
        .group_by(engagement_snapshots.c.delivery_id)
        .subquery()
    )
    columns = [func.sum(engagement_snapshots.c[column]) for column in REACTIONS.values()]
    reactions = (
        select(deliveries.c.network, *columns)
        .select_from(engagement_snapshots.join(newest, newest.c.id == engagement_snapshots.c.id)
                     .join(deliveries, deliveries.c.id == engagement_snapshots.c.delivery_id))
        .group_by(deliveries.c.network)
    )
    figures: dict[str, NetworkFigures] = {}
    with engine.connect() as conn:
        for network, count in conn.execute(sent):
            figures[network] = NetworkFigures(posts_sent=int(count))
        for network, count in conn.execute(human):
            figures[network] = replace(figures.get(network, NetworkFigures()), human_clicks=int(count))
        for network, *sums in conn.execute(reactions):
            counted = {kind: int(total) for kind, total in zip(REACTIONS, sums, strict=True) if total is not None}
            figures[network] = replace(figures.get(network, NetworkFigures()), reactions=counted)
    return figures


def feeds_by_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {s: int(n) for s, n in conn.execute(select(feeds.c.status, func.count()).group_by(feeds.c.status))}
