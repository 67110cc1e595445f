"""next_check_at: the polling rules, one by one, and the bounds that hold whatever the inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.schedule import next_check_at

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
NO_JITTER = 0.5
BOUNDS = {"min_interval": 5 * MINUTE, "max_interval": 24 * HOUR, "backoff_ceiling": 6 * HOUR}


def delay(**overrides: object) -> timedelta:
    """The wait chosen for a feed polled every 30 minutes, with 10% jitter, unless overridden."""
    arguments: dict[str, object] = {"interval": 30 * MINUTE, "jitter_fraction": 0.1, "rng_value": NO_JITTER}
    arguments.update(BOUNDS)
    arguments.update(overrides)
    return next_check_at(NOW, **arguments) - NOW  # type: ignore[arg-type]


def test_the_interval_is_used_as_is_without_jitter() -> None:
    assert delay() == 30 * MINUTE


def test_jitter_spreads_both_ways_by_the_fraction() -> None:
    assert delay(rng_value=0.0) == 27 * MINUTE
    assert delay(rng_value=0.999999) == pytest.approx(33 * MINUTE, abs=timedelta(seconds=1))
    assert delay(jitter_fraction=0.0, rng_value=0.0) == 30 * MINUTE


def test_the_interval_is_clamped_to_the_bounds() -> None:
    assert delay(interval=timedelta(seconds=10), jitter_fraction=0) == 5 * MINUTE
    assert delay(interval=timedelta(days=30), jitter_fraction=0) == 24 * HOUR
    assert delay(interval=timedelta(seconds=10), rng_value=0.0) == 5 * MINUTE  # jitter never goes below the floor


def test_max_age_lengthens_the_wait_but_never_past_max_interval() -> None:
    assert delay(max_age_hint=2 * HOUR) == 2 * HOUR
    assert delay(max_age_hint=60) == 30 * MINUTE  # shorter than the interval: the interval wins
    assert delay(max_age_hint=timedelta(days=7)) == 24 * HOUR
    assert delay(max_age_hint=7200.0) == 2 * HOUR  # seconds, as in the header


def test_errors_back_off_exponentially_to_the_ceiling() -> None:
    waits = [delay(error_count=n) for n in range(0, 8)]
    assert waits[:5] == [30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR, 6 * HOUR]
    assert waits[5:] == [6 * HOUR] * 3
    assert delay(error_count=10_000) == 6 * HOUR  # no overflow however long a site is down


def test_an_error_never_polls_more_often_than_success() -> None:
    assert delay(interval=12 * HOUR, error_count=1) == 12 * HOUR  # the ceiling (6 h) is below the interval


def test_retry_after_is_a_floor_capped_by_the_ceiling() -> None:
    assert delay(retry_after=3 * HOUR, error_count=1) == 3 * HOUR
    assert delay(retry_after=3 * HOUR, error_count=1, rng_value=0.0) == 3 * HOUR  # jitter cannot undercut it
    assert delay(retry_after=60.0, error_count=1) == HOUR  # a short Retry-After does not cancel the backoff
    assert delay(retry_after=timedelta(days=30), error_count=1) == 24 * HOUR  # capped (max_interval > ceiling here)
    assert delay(retry_after=timedelta(days=30), error_count=1, max_interval=2 * HOUR) == 6 * HOUR


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rng_value": 1.0}, "rng_value"),
        ({"jitter_fraction": 1.5}, "jitter_fraction"),
        ({"error_count": -1}, "error_count"),
        ({"min_interval": timedelta(0)}, "min_interval"),
        ({"max_interval": MINUTE}, "min_interval <= max_interval"),
        ({"backoff_ceiling": MINUTE}, "backoff_ceiling"),
    ],
)
def test_nonsense_inputs_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        delay(**overrides)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_check_at(
            datetime(2026, 1, 1),
            interval=HOUR,
            jitter_fraction=0,
            rng_value=0,
            min_interval=MINUTE,
            max_interval=HOUR,
            backoff_ceiling=HOUR,
        )


seconds = st.floats(min_value=0, max_value=90 * 86400, allow_nan=False)


@given(
    interval=seconds,
    jitter=st.floats(min_value=0, max_value=1),
    rng=st.floats(min_value=0, max_value=1, exclude_max=True),
    max_age=st.none() | seconds,
    retry_after=st.none() | seconds,
    errors=st.integers(min_value=0, max_value=100),
)
def test_the_wait_always_stays_within_the_bounds(
    interval: float, jitter: float, rng: float, max_age: float | None, retry_after: float | None, errors: int
) -> None:
    wait = delay(
        interval=timedelta(seconds=interval),
        jitter_fraction=jitter,
        rng_value=rng,
        max_age_hint=max_age,
        retry_after=retry_after,
        error_count=errors,
    )
    assert 5 * MINUTE <= wait <= 24 * HOUR
    if retry_after is not None:
        assert wait >= min(timedelta(seconds=retry_after), 24 * HOUR)
    if errors and retry_after is None:  # backoff stops at the ceiling, or at the success wait if that is longer
        success_wait = max(timedelta(seconds=interval), timedelta(seconds=max_age or 0), 5 * MINUTE)
        assert wait <= max(6 * HOUR, min(success_wait, 24 * HOUR))
