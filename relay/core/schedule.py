"""When to check a feed next: a pure function of the facts, so every rule is unit-testable.

The worker only picks feeds whose ``next_check_at`` has passed (as miniflux does); this is
where that time is decided. No clock and no random source live here: ``now`` and
``rng_value`` are passed in, so the same inputs always give the same answer.

The rules, in order:

1. The feed's own ``interval``, clamped to ``[min_interval, max_interval]``.
2. ``Cache-Control: max-age`` can lengthen it (never past ``max_interval``): the server says
   the feed will not change sooner, and polling earlier only costs both sides.
3. After ``error_count`` failures in a row the delay doubles each time, up to
   ``backoff_ceiling``, so a dead site is not hammered but is still retried. An error never
   makes polling more frequent than success would.
4. ``Retry-After`` (429/503) is a floor: never retry before it, but never wait longer
   than ``backoff_ceiling`` either, whatever the server asks.
5. Jitter of ``±jitter_fraction`` spreads feeds added at the same moment, so they do not
   all poll in the same second forever; it never breaks the floors of rule 4.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_MAX_DOUBLINGS = 32
"""2**32 times any interval is past any ceiling; stops the exponent from growing without end."""


def next_check_at(
    now: datetime,
    *,
    interval: timedelta,
    jitter_fraction: float,
    rng_value: float,
    max_age_hint: timedelta | float | None = None,
    retry_after: timedelta | float | None = None,
    error_count: int = 0,
    min_interval: timedelta,
    max_interval: timedelta,
    backoff_ceiling: timedelta,
) -> datetime:
    """The time of the next fetch of one feed.

    ``rng_value`` is a uniform draw in ``[0, 1)`` (0.5 means no jitter); ``now`` must be
    timezone-aware so the result can be compared with stored times. ``max_age_hint`` and
    ``retry_after`` may be given as seconds, the unit HTTP headers use.
    """
    max_age_hint = _as_timedelta(max_age_hint)
    retry_after = _as_timedelta(retry_after)
    _check_arguments(now, jitter_fraction, rng_value, error_count, min_interval, max_interval, backoff_ceiling)
    base = min(max(interval, min_interval), max_interval)
    if max_age_hint is not None:
        base = max(base, min(max_age_hint, max_interval))
    delay, upper = base, max_interval
    if error_count > 0:
        upper = max(backoff_ceiling, base)
        doubled_seconds = base.total_seconds() * 2.0 ** min(error_count, _MAX_DOUBLINGS)
        delay = timedelta(seconds=min(doubled_seconds, upper.total_seconds()))
    floor = min_interval
    if retry_after is not None:
        floor = max(floor, min(retry_after, max(backoff_ceiling, max_interval)))
        upper = max(upper, floor)
    jittered = delay * (1 + jitter_fraction * (2 * rng_value - 1))
    return now + min(max(jittered, floor), upper)


def _as_timedelta(value: timedelta | float | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=max(0.0, float(value)))


def _check_arguments(
    now: datetime,
    jitter_fraction: float,
    rng_value: float,
    error_count: int,
    min_interval: timedelta,
    max_interval: timedelta,
    backoff_ceiling: timedelta,
) -> None:
    """Reject inputs that would silently give a nonsense schedule (a bug in the caller)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (use datetime.now(UTC))")
    if not 0 <= jitter_fraction <= 1:
        raise ValueError(f"jitter_fraction must be between 0 and 1, not {jitter_fraction}")
    if not 0 <= rng_value < 1:
        raise ValueError(f"rng_value must be in [0, 1), not {rng_value}")
    if error_count < 0:
        raise ValueError(f"error_count cannot be negative ({error_count})")
    if min_interval <= timedelta(0) or max_interval < min_interval:
        raise ValueError(f"need 0 < min_interval <= max_interval, got {min_interval} and {max_interval}")
    if backoff_ceiling < min_interval:
        raise ValueError(f"backoff_ceiling ({backoff_ceiling}) cannot be shorter than min_interval ({min_interval})")
