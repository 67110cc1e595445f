"""One feed entry, one WordPress post: each reaches X, Mastodon and Bluesky exactly once across random SIGKILLs.

The harness is :mod:`tests.crash_scenarios` (real ``relay`` processes, killed at random moments,
restarted until everything settles); :mod:`tests.crash_networks` adds the Mastodon and Bluesky
emulators, slow enough that kills land between a request leaving and its answer being recorded,
and losing a few answers after doing the work. Every post must be on every network once: none
lost, none doubled, and each delivery must record the id the network gave it.

The seed is printed; ``CRASH_SEED=<n>`` replays a run's kill moments.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_schema
from tests.crash_scenarios import Outcome, Scenario, run

THREE = ("x", "mastodon", "bluesky")
SEED = int(os.environ.get("CRASH_SEED", "20261217"))

SCENARIOS = [
    Scenario("feed entries to X, Mastodon and Bluesky, killed while answers are held", networks=THREE,
             x_delay=0.5, x_posts_first=True, x_timeout=2, posts=8, kills=6, max_kill_delay=1.5),
    Scenario("WordPress webhook to X, Mastodon and Bluesky, killed between its steps", networks=THREE,
             door="webhook", x_delay=0.5, x_posts_first=False, x_timeout=2, posts=8, kills=6, max_kill_delay=1.5),
]
POSTGRES_SCENARIOS = [
    Scenario("PostgreSQL, 2 workers, feed entries to X, Mastodon and Bluesky", networks=THREE, database="postgresql",
             workers=2, x_delay=0.5, x_timeout=1.5, posts=8, kills=4, max_kill_delay=1.5),
    Scenario("PostgreSQL, WordPress webhook to X, Mastodon and Bluesky", networks=THREE, database="postgresql",
             door="webhook", x_delay=0.5, x_posts_first=False, x_timeout=1.5, posts=8, kills=4, max_kill_delay=1.5),
]


def _check(outcome: Outcome) -> None:
    print(f"\ncrash scenario: {outcome.row()}")
    assert outcome.kills == outcome.scenario.kills
    assert outcome.kills_while_posting >= 1, "a kill landed while posts were going out"
    assert set(outcome.aimed_hits) == {"mastodon", "bluesky"}, \
        f"relay was killed while Mastodon and while Bluesky held an answer: {outcome.aimed_hits}"
    assert set(outcome.per_network) == set(THREE), "every network was counted"
    assert outcome.lost == [], f"lost (seed {outcome.seed}): {outcome.lost}"
    assert outcome.doubled == [] and outcome.refused_as_duplicate == 0, \
        f"doubled (seed {outcome.seed}): {outcome.doubled}, {outcome.refused_as_duplicate} refused by X as duplicates"
    assert outcome.wrong_ids == [], f"ids that are not the network's (seed {outcome.seed}): {outcome.wrong_ids}"
    assert all(counts["held"] == outcome.posts for counts in outcome.per_network.values()), outcome.per_network


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_each_post_reaches_each_network_once_across_kills(scenario: Scenario, tmp_path: Path) -> None:
    _check(run(scenario, tmp_path, seed=SEED))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("scenario", POSTGRES_SCENARIOS, ids=[s.name for s in POSTGRES_SCENARIOS])
def test_each_post_reaches_each_network_once_across_kills_on_postgresql(scenario: Scenario, tmp_path: Path) -> None:
    with fresh_postgres_schema() as url:
        outcome = run(scenario, tmp_path, database_url=url, seed=SEED)
    _check(outcome)
