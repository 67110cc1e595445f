"""Never flood: which new entries of a feed are posted, when, and when to ask a human first.

A feed can surprise relay in three ways: the first look (the whole archive is "new"), a
feed that resurfaces old entries, and a site move that rewrites every link at once. Each
has its rule here; none of them ever posts a blog's back catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from relay.core.models import Post


@dataclass(frozen=True)
class FloodRules:
    max_age: timedelta = timedelta(days=7)
    per_round: int = 3
    spacing: timedelta = timedelta(minutes=10)
    hold_threshold: int = 5


@dataclass(frozen=True)
class Triage:
    """The fate of a feed's unseen entries."""

    post: list[tuple[Post, datetime]] = field(default_factory=list)
    """Entries to post, each with the time it may go out (oldest first)."""
    remember: list[Post] = field(default_factory=list)
    """Entries recorded as seen and never posted (baseline, too old)."""
    held: list[Post] = field(default_factory=list)
    """Entries recorded and waiting for the operator's decision."""
    reason: str = ""


def _published(post: Post) -> float:
    return post.published_at.timestamp() if post.published_at else 0.0


def triage(fresh: list[Post], *, first_sight: bool, backfill: int, now: datetime, rules: FloodRules) -> Triage:
    """Sort unseen entries into posted (with a schedule), remembered and held."""
    too_old = [p for p in fresh if p.published_at is not None and p.published_at < now - rules.max_age]
    candidates = sorted((p for p in fresh if p not in too_old), key=_published)
    if first_sight:
        chosen = candidates[-backfill:] if backfill else []
        remember = too_old + [p for p in candidates if p not in chosen]
        return Triage(post=_spaced(chosen, now, rules), remember=remember,
                      reason=f"first look: {len(fresh)} entries remembered, {len(chosen)} posted (backfill)")
    if len(candidates) > rules.hold_threshold:
        return Triage(
            remember=too_old,
            held=candidates,
            reason=(
                f"{len(candidates)} new entries at once (more than {rules.hold_threshold}): did the site move or "
                "change its links? Nothing was posted. `relay feeds release ID` posts them, "
                "`relay feeds discard ID` forgets them."
            ),
        )
    return Triage(post=_spaced(candidates, now, rules), remember=too_old)


def _spaced(posts: list[Post], now: datetime, rules: FloodRules) -> list[tuple[Post, datetime]]:
    """The first ``per_round`` go now; each further one ``spacing`` after the previous."""
    schedule = []
    for index, post in enumerate(posts):
        late = max(0, index - rules.per_round + 1)
        schedule.append((post, now + rules.spacing * late))
    return schedule
