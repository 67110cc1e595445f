"""Everything the X emulator remembers, behind one lock.

The state is shared between the server's event loop and the test thread that inspects it (through
:class:`relay.testing.x_emulator_server.EmulatorServer`), so every public method takes the lock and
hands back copies, never live objects. Each tweet is stored the way X stores it: the text as
received (NFC-normalised, X's rule) and the text as X displays it, with every link wrapped in a
``t.co`` link of 23 characters. The clock is injectable so windows and ages are testable.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from relay.testing.x_emulator_auth import OAuth1Keys
from relay.testing.x_emulator_links import UrlEntity, wrap_links

TWITTER_EPOCH_MS = 1288834974657
PUBLIC_METRICS = (
    "retweet_count",
    "reply_count",
    "like_count",
    "quote_count",
    "bookmark_count",
    "impression_count",
)
NON_PUBLIC_METRICS = ("impression_count", "url_link_clicks", "user_profile_clicks")
MEDIA_LIFETIME_SECONDS = 86400
# Per 15 minutes: (per-user limit, per-app limit, or None where X refuses app-only auth), from
# https://docs.x.com/x-api/fundamentals/rate-limits. POST /2/tweets takes its user limit from config.
ROUTE_LIMITS: dict[str, tuple[int, int | None]] = {
    "POST /2/tweets": (100, None),
    "GET /2/tweets": (5000, 3500),
    "GET /2/users/:id/tweets": (900, 10000),
    "GET /2/users/me": (75, None),
    "POST /2/media/upload": (500, None),
    "POST /2/media/metadata": (500, None),
}
REQUEST_LOG_SIZE = 1000


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated account and app behave; every field has a default that just works."""

    keys: OAuth1Keys | None = None
    """When set, OAuth 1.0a signatures are verified for real; when None any well-formed one passes."""
    bearer_token: str | None = None
    user_id: str = "1500000000000000001"
    username: str = "relay_emulator"
    name: str = "Relay Emulator"
    developer_account_id: int = 1900000000000000002
    tweet_rate_limit: int = 100
    """Per-user limit of POST /2/tweets: X documents 100 requests / 15 min per user (and 10,000 /
    24 h per app), https://docs.x.com/x-api/fundamentals/rate-limits ("Manage posts")."""
    rate_window_seconds: int = 900
    credits: int | None = None
    """Pay-per-use balance; None is unlimited. Each created tweet costs one credit."""
    wrap_links: bool = True
    """Answer with links wrapped in t.co as X does; turn off only to debug a test."""


@dataclass
class StoredTweet:
    id: str
    text: str
    display_text: str
    urls: tuple[UrlEntity, ...]
    media_ids: tuple[str, ...]
    created_at: datetime
    public_metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PUBLIC_METRICS, 0))
    non_public_metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NON_PUBLIC_METRICS, 0))


@dataclass
class StoredMedia:
    id: str
    mime: str
    size: int
    category: str
    uploaded_at: float
    alt_text: str | None = None


@dataclass
class Fault:
    """A scripted failure: the next ``times`` requests matching method and path misbehave."""

    method: str
    path: str
    """An exact path or an fnmatch pattern (``/2/users/*/tweets``)."""
    status: int | None = None
    times: int = 1
    reset_in: int = 900
    delay: float = 0.0
    accept_then_fail: bool = False
    detail: str | None = None


@dataclass(frozen=True)
class RateWindow:
    limit: int
    remaining: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(max(self.remaining, 0)),
            "x-rate-limit-reset": str(self.reset_at),
        }


class DuplicateTweet(Exception):
    """The account already posted exactly this text."""


class UnknownMedia(Exception):
    """A media id was never uploaded by this account, or has expired."""


def route_of(method: str, path: str) -> str | None:
    """The rate-limited route a request belongs to (``GET /2/users/:id/tweets``), if any."""
    method = method.upper()
    if method == "GET" and re.fullmatch(r"/2/users/[^/]+/tweets", path):
        return "GET /2/users/:id/tweets"
    route = f"{method} {path}"
    return route if route in ROUTE_LIMITS else None


def _copy(tweet: StoredTweet) -> StoredTweet:
    return replace(tweet, public_metrics=dict(tweet.public_metrics), non_public_metrics=dict(tweet.non_public_metrics))


def snowflake(moment_ms: int, sequence: int) -> int:
    """An id shaped like X's: milliseconds since X's epoch, shifted, plus a sequence."""
    return ((moment_ms - TWITTER_EPOCH_MS) << 22) | (sequence & 0x3FFFFF)


class EmulatorState:
    """Tweets, media, scripted faults, rate windows and credits of one emulated account."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._clear()

    def _clear(self) -> None:
        self._tweets: dict[str, StoredTweet] = {}
        self._media: dict[str, StoredMedia] = {}
        self._faults: list[Fault] = []
        self._windows: dict[tuple[str, str], RateWindow] = {}
        self._nonces: set[tuple[str, str]] = set()
        self._requests: list[dict[str, object]] = []
        self._credits = self.config.credits
        self._last_id = 0

    def limits(self, route: str) -> tuple[int, int | None]:
        if route == "POST /2/tweets":
            return self.config.tweet_rate_limit, None
        return ROUTE_LIMITS[route]

    def reset(self) -> None:
        """Forget everything; requests still held by a ``delay`` fault then land nowhere."""
        with self._lock:
            self._clear()
            self._generation += 1

    @property
    def generation(self) -> int:
        """Bumped by every reset, so a request that outlives one can tell."""
        with self._lock:
            return self._generation

    def _next_id(self, moment: float, *, live: bool = True) -> str:
        """A fresh snowflake; live ids strictly increase, seeded ones follow their own timestamp."""
        candidate = snowflake(int(moment * 1000), 0)
        if live:
            candidate = max(candidate, self._last_id + 1)
        taken = self._tweets.keys() | self._media.keys()
        while str(candidate) in taken:
            candidate += 1
        if live:
            self._last_id = candidate
        return str(candidate)

    # --- tweets -------------------------------------------------------------------------------

    def create_tweet(
        self,
        text: str,
        media_ids: tuple[str, ...],
        *,
        created_at: float | None = None,
        check_duplicate: bool = True,
    ) -> StoredTweet:
        """Store a tweet; a new tweet costs one credit. Raises DuplicateTweet or UnknownMedia."""
        text = unicodedata.normalize("NFC", text)
        with self._lock:
            now = self.clock()
            if check_duplicate and text and any(t.text == text for t in self._tweets.values()):
                raise DuplicateTweet(text)
            for media_id in media_ids:
                media = self._media.get(media_id)
                if media is None or now - media.uploaded_at > MEDIA_LIFETIME_SECONDS:
                    raise UnknownMedia(media_id)
            moment = now if created_at is None else created_at
            tweet_id = self._next_id(moment, live=created_at is None)
            display, urls = wrap_links(text, tweet_id) if self.config.wrap_links else (text, ())
            tweet = StoredTweet(tweet_id, text, display, urls, media_ids, datetime.fromtimestamp(moment, UTC))
            self._tweets[tweet_id] = tweet
            if created_at is None and self._credits is not None:
                self._credits -= 1
            return _copy(tweet)

    def tweets(self) -> list[StoredTweet]:
        """Every stored tweet, oldest id first (copies)."""
        with self._lock:
            return [_copy(self._tweets[key]) for key in sorted(self._tweets, key=int)]

    def find_tweets(self, ids: list[str]) -> dict[str, StoredTweet]:
        with self._lock:
            return {i: _copy(self._tweets[i]) for i in ids if i in self._tweets}

    def set_metrics(self, tweet_id: str, public: dict[str, int], non_public: dict[str, int]) -> bool:
        with self._lock:
            tweet = self._tweets.get(tweet_id)
            if tweet is None:
                return False
            tweet.public_metrics.update({k: int(v) for k, v in public.items() if k in PUBLIC_METRICS})
            tweet.non_public_metrics.update({k: int(v) for k, v in non_public.items() if k in NON_PUBLIC_METRICS})
            return True

    # --- media --------------------------------------------------------------------------------

    def add_media(self, mime: str, size: int, category: str) -> StoredMedia:
        with self._lock:
            now = self.clock()
            media = StoredMedia(self._next_id(now), mime, size, category, now)
            self._media[media.id] = media
            return replace(media)

    def set_alt_text(self, media_id: str, alt_text: str) -> bool:
        with self._lock:
            media = self._media.get(media_id)
            if media is None:
                return False
            media.alt_text = alt_text
            return True

    def media(self) -> list[StoredMedia]:
        with self._lock:
            return [replace(m) for m in self._media.values()]

    # --- limits, credits, faults, replay ------------------------------------------------------

    def count_request(self, route: str, principal: str, limit: int) -> RateWindow:
        """Spend one request of the caller's window for ``route``; remaining < 0 means refused."""
        with self._lock:
            now = self.clock()
            window = self._windows.get((route, principal))
            if window is None or now >= window.reset_at:
                window = RateWindow(limit, limit, int(now) + self.config.rate_window_seconds)
            window = replace(window, remaining=window.remaining - 1)
            self._windows[(route, principal)] = window
            return window

    def credits(self) -> int | None:
        with self._lock:
            return self._credits

    def set_credits(self, remaining: int | None) -> None:
        with self._lock:
            self._credits = remaining

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def faults(self) -> list[Fault]:
        with self._lock:
            return [replace(f) for f in self._faults]

    def take_fault(self, method: str, path: str, matches: Callable[[str, str], bool]) -> Fault | None:
        """Consume one use of the first queued fault matching this request."""
        with self._lock:
            for fault in self._faults:
                if fault.method.upper() == method.upper() and matches(path, fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return replace(fault)
            return None

    def first_use_of_nonce(self, nonce: str, timestamp: str) -> bool:
        with self._lock:
            if (nonce, timestamp) in self._nonces:
                return False
            self._nonces.add((nonce, timestamp))
            return True

    def log_request(self, entry: dict[str, object]) -> None:
        with self._lock:
            self._requests.append(entry)
            del self._requests[:-REQUEST_LOG_SIZE]

    def requests(self) -> list[dict[str, object]]:
        with self._lock:
            return [dict(entry) for entry in self._requests]
