"""When a post may go out: daily cap, spacing, quiet hours and the monthly budget.

Pure: the caller passes the clock and the account's recent usage, so every rule is a
plain function of its inputs and is tested without waiting for midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from relay.core.twitter_text_lib import extract_urls


@dataclass(frozen=True)
class Caps:
    """The limits one X account posts under."""

    daily_cap: int = 2400
    """Posts per rolling 24 hours. X's documented per-account limit is 2,400 posts a day."""
    min_spacing: timedelta = timedelta(0)
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"
    monthly_budget_usd: float = 0.0
    """0 means no budget limit."""
    cost_with_url_usd: float = 0.20
    cost_without_url_usd: float = 0.015


POSTS_READ = "posts_read"
OWN_POSTS_READ = "own_posts_read"
USER_READ = "user_read"
MEDIA_METADATA = "media_metadata"
BILLED_KINDS = (OWN_POSTS_READ, POSTS_READ, USER_READ, MEDIA_METADATA)
"""What X bills besides posts: reads per resource returned, and the media metadata (alt text) request."""


@dataclass(frozen=True)
class XPrices:
    """X's pay-per-use prices for what relay does besides posting (https://docs.x.com/x-api/getting-started/pricing,
    2026): a read is billed per resource returned, once per UTC day; reading one's own posts is an "owned read"."""

    post_read_usd: float = 0.005
    own_post_read_usd: float = 0.001
    user_read_usd: float = 0.010
    media_metadata_usd: float = 0.005

    def unit(self, kind: str) -> float:
        return {
            POSTS_READ: self.post_read_usd,
            OWN_POSTS_READ: self.own_post_read_usd,
            USER_READ: self.user_read_usd,
            MEDIA_METADATA: self.media_metadata_usd,
        }[kind]


@dataclass(frozen=True)
class Usage:
    """What the account has done lately, read from the outbox."""

    sent_last_24h: int = 0
    oldest_in_window: datetime | None = None
    """The oldest post of the last 24 h: the cap frees up 24 h after it."""
    last_sent_at: datetime | None = None
    spent_this_month_usd: float = 0.0


@dataclass(frozen=True)
class Gate:
    """Whether a post may go now; if not, the earliest time to look again and why."""

    open: bool
    not_before: datetime | None = None
    reason: str = ""
    needs_operator: bool = False
    """True when waiting will not help within the day (budget spent): tell a human."""


def post_cost(text: str, caps: Caps) -> float:
    """What X charges for posting this text: posts with a link cost more."""
    return caps.cost_with_url_usd if extract_urls(text) else caps.cost_without_url_usd


def month_start(now: datetime, timezone: str) -> datetime:
    """Midnight of the first day of ``now``'s month in the account's time zone."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quiet_until(now: datetime, caps: Caps) -> datetime | None:
    """The end of the quiet period ``now`` falls in, or None when posting is allowed."""
    if caps.quiet_start is None or caps.quiet_end is None or caps.quiet_start == caps.quiet_end:
        return None
    zone = ZoneInfo(caps.timezone)
    local = now.astimezone(zone)
    start, end, clock = caps.quiet_start, caps.quiet_end, local.time()
    overnight = start > end
    inside = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not inside:
        return None
    end_day = local.date()
    if overnight and clock >= start:
        end_day += timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone)


def gate(now: datetime, caps: Caps, usage: Usage, *, cost: float) -> Gate:
    """Apply every rule; the first that holds the post back decides the answer."""
    if caps.monthly_budget_usd > 0 and usage.spent_this_month_usd + cost > caps.monthly_budget_usd + 1e-9:
        next_month = (month_start(now, caps.timezone) + timedelta(days=32)).replace(day=1)
        return Gate(
            False,
            next_month,
            f"monthly budget reached: ${usage.spent_this_month_usd:.2f} of ${caps.monthly_budget_usd:.2f} spent. "
            "Raise [publishing] monthly_budget_usd to post the rest this month.",
            needs_operator=True,
        )
    if usage.sent_last_24h >= caps.daily_cap:
        frees_at = (usage.oldest_in_window or now) + timedelta(hours=24)
        return Gate(False, frees_at, f"daily cap reached: {usage.sent_last_24h} posts in 24 h (cap {caps.daily_cap})")
    if usage.last_sent_at is not None and caps.min_spacing > timedelta(0):
        ready = usage.last_sent_at + caps.min_spacing
        if ready > now:
            return Gate(False, ready, f"spacing: next post not before {ready.isoformat(timespec='seconds')}")
    until = quiet_until(now, caps)
    if until is not None:
        return Gate(False, until, f"quiet hours until {until.isoformat(timespec='minutes')}")
    return Gate(True)
