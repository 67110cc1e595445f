"""Exactly once across random SIGKILLs, in each of the conditions X and real machines make.

Bounded versions (a few kills each) of the scenarios of ``tests/crash_scenarios.py``; the long
version, 100 kills per scenario, is ``bench/crash_long.py`` and its figures are in RELIABILITY.md.
Every row must end with 0 lost and 0 doubled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_schema
from tests.crash_scenarios import Scenario, run

SCENARIOS = [
    Scenario("killed while X is still answering (4 s answers)", x_delay=4, x_posts_first=False, x_timeout=6,
             kills=5),
    Scenario("X answers after relay stopped waiting", x_delay=2.5, x_timeout=1, kills=3, posts=12),
    Scenario("a timeline that lags 2 s behind the posts", x_delay=0.5, x_timeout=3, timeline_delay=2, kills=4),
    Scenario("posts with images and bare domains", images=True, bare_domains=True, x_delay=0.3, kills=5),
    Scenario("webhook door, killed between its steps", door="webhook", x_delay=0.3, kills=6),
]
POSTGRES_SCENARIOS = [
    Scenario("PostgreSQL, 2 workers, 150 other tweets newer than the claims", database="postgresql", workers=2,
             x_delay=0.5, x_timeout=3, noise_per_kill=40, kills=4),
]


def _check(outcome_row: dict[str, object], lost: list[str], doubled: list[str]) -> None:
    print(f"\ncrash scenario: {outcome_row}")
    assert lost == [], f"lost: {lost}"
    assert doubled == [] and outcome_row["doubled"] == 0, f"doubled: {doubled} ({outcome_row})"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_no_post_lost_or_doubled(scenario: Scenario, tmp_path: Path) -> None:
    outcome = run(scenario, tmp_path)
    assert outcome.kills == scenario.kills
    _check(outcome.row(), outcome.lost, outcome.doubled)
    if scenario.images:
        assert outcome.with_image == scenario.posts, "every post went out with its image"


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("scenario", POSTGRES_SCENARIOS, ids=[s.name for s in POSTGRES_SCENARIOS])
def test_no_post_lost_or_doubled_with_several_workers(scenario: Scenario, tmp_path: Path) -> None:
    with fresh_postgres_schema() as url:
        outcome = run(scenario, tmp_path, database_url=url)
    _check(outcome.row(), outcome.lost, outcome.doubled)
