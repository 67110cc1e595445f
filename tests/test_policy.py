"""Caps, spacing, quiet hours and budget as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from relay.core.policy import Caps, Usage, gate, month_start, post_cost, quiet_until

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_open_by_default() -> None:
    assert gate(NOW, Caps(), Usage(), cost=0.2).open


def test_cost_depends_on_a_link_as_x_sees_it() -> None:
    caps = Caps()
    assert post_cost("Nouveau billet https://boulangerie.fr/pain", caps) == 0.20
    assert post_cost("Nouveau billet sans lien", caps) == 0.015
    assert post_cost("voir boulangerie.fr", caps) == 0.20, "a bare domain is a link for X"


def test_daily_cap_frees_24_hours_after_the_oldest_post() -> None:
    usage = Usage(sent_last_24h=5, oldest_in_window=NOW - timedelta(hours=3))
    verdict = gate(NOW, Caps(daily_cap=5), usage, cost=0.2)
    assert not verdict.open and verdict.not_before == NOW + timedelta(hours=21)
    assert gate(NOW, Caps(daily_cap=6), usage, cost=0.2).open


def test_spacing() -> None:
    usage = Usage(last_sent_at=NOW - timedelta(minutes=4))
    verdict = gate(NOW, Caps(min_spacing=timedelta(minutes=5)), usage, cost=0.2)
    assert not verdict.open and verdict.not_before == NOW + timedelta(minutes=1)


def test_quiet_hours_overnight_and_same_day() -> None:
    night = Caps(quiet_start=time(22), quiet_end=time(7), timezone="Europe/Paris")
    paris_23h = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert quiet_until(paris_23h, night) == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    paris_6h = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert quiet_until(paris_6h, night) == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    assert quiet_until(datetime(2026, 11, 26, 6, 0, tzinfo=UTC), night) is None, "07:00 Paris: allowed again"
    lunch = Caps(quiet_start=time(12), quiet_end=time(14), timezone="UTC")
    assert quiet_until(NOW, lunch) == NOW + timedelta(hours=2)
    assert quiet_until(NOW - timedelta(minutes=1), lunch) is None


def test_budget_counts_the_next_post_and_needs_the_operator() -> None:
    caps = Caps(monthly_budget_usd=1.0)
    assert gate(NOW, caps, Usage(spent_this_month_usd=0.80), cost=0.20).open
    verdict = gate(NOW, caps, Usage(spent_this_month_usd=0.81), cost=0.20)
    assert not verdict.open and verdict.needs_operator
    assert verdict.not_before == datetime(2026, 12, 1, tzinfo=UTC)
    assert "monthly_budget_usd" in verdict.reason


def test_month_starts_in_the_account_time_zone() -> None:
    start = month_start(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "Europe/Paris")
    assert start.isoformat() == "2026-12-01T00:00:00+01:00"
