"""The never-flood rules, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relay.core.flood import FloodRules, triage
from relay.core.models import Post

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def post(n: int, *, age_days: float | None = 0.1) -> Post:
    published = None if age_days is None else NOW - timedelta(days=age_days, minutes=n)
    return Post(url=f"https://blog.fr/{n}", title=f"P{n}", published_at=published)


def test_first_sight_remembers_all_but_backfill() -> None:
    fresh = [post(n) for n in range(10)]
    result = triage(fresh, first_sight=True, backfill=0, now=NOW, rules=FloodRules())
    assert result.post == [] and len(result.remember) == 10
    backfilled = triage(fresh, first_sight=True, backfill=2, now=NOW, rules=FloodRules())
    assert [p.title for p, _ in backfilled.post] == ["P1", "P0"], "the newest two, oldest first"


def test_entries_older_than_max_age_are_never_posted() -> None:
    fresh = [post(1), post(2, age_days=8), post(3, age_days=None)]
    result = triage(fresh, first_sight=False, backfill=0, now=NOW, rules=FloodRules(max_age=timedelta(days=7)))
    assert {p.title for p, _ in result.post} == {"P1", "P3"}, "an entry without a date is judged new"
    assert [p.title for p in result.remember] == ["P2"]


def test_a_burst_is_spaced_after_the_per_round_limit() -> None:
    rules = FloodRules(per_round=2, spacing=timedelta(minutes=10), hold_threshold=10)
    result = triage([post(n) for n in range(4)], first_sight=False, backfill=0, now=NOW, rules=rules)
    assert [when - NOW for _, when in result.post] == [
        timedelta(0), timedelta(0), timedelta(minutes=10), timedelta(minutes=20)
    ]


def test_a_mass_of_new_entries_is_held_not_posted() -> None:
    result = triage([post(n) for n in range(6)], first_sight=False, backfill=0, now=NOW,
                    rules=FloodRules(hold_threshold=5))
    assert result.post == [] and len(result.held) == 6
    assert "relay feeds release" in result.reason
