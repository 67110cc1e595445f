"""Everything the X emulator remembers, behind one lock.

The state is shared between the server's event loop and the test thread that inspects it (through
:class:`relay.testing.x_emulator_server.EmulatorServer`), so every public method takes the lock and
hands back copies, never live objects. Each tweet is stored the way X stores it: the text as
received (NFC-normalised, X's rule) and the text as X displays it (see
:mod:`relay.testing.x_emulator_links`). The clock is injectable so windows and ages are testable.

Besides tweets and media it keeps what X keeps about an account: rate windows, the pay-per-use
balance and every charge against it, the pagination tokens it handed out, and how long a new post
takes to show in the timeline.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import twitter_text

from relay.testing.x_emulator_auth import OAuth1Keys
from relay.testing.x_emulator_links import CashtagEntity, Rendered, UrlEntity, render

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
TIMELINE_REACH = 3200
"""GET /2/users/:id/tweets reaches the 3,200 most recent posts, no further (X's docs)."""
MEDIA_KEY_PREFIX = {"tweet_image": "3", "dm_image": "3", "tweet_gif": "16", "dm_gif": "16", "tweet_video": "13",
                    "dm_video": "13", "amplify_video": "13"}
"""``media_key`` is ``<type>_<id>``: 3 for photos, 16 for animated GIFs, 13 for videos (as X lists them)."""
PAGE_TOKENS_KEPT = 10_000
# Per 15 minutes: (per-user limit, per-app limit, or None where X refuses app-only auth), from
# https://docs.x.com/x-api/fundamentals/rate-limits. POST /2/tweets takes its user limit from config.
ROUTE_LIMITS: dict[str, tuple[int, int | None]] = {
    "POST /2/tweets": (100, None),
    "GET /2/tweets": (5000, 3500),
    "GET /2/users/:id/tweets": (900, 10000),
    "GET /2/users/me": (75, None),
    "GET /2/tweets/:id": (900, 450),
    "DELETE /2/tweets/:id": (50, None),
    "POST /2/media/upload": (500, None),
    "POST /2/media/upload/initialize": (500, None),
    "POST /2/media/upload/:id/append": (500, None),
    "POST /2/media/upload/:id/finalize": (500, None),
    "GET /2/media/upload": (500, None),
    "POST /2/media/metadata": (500, None),
}
REQUEST_LOG_SIZE = 1000


@dataclass(frozen=True)
class Prices:
    """Pay-per-use prices, in credits of $0.001 (https://docs.x.com/x-api/getting-started/pricing, 2026).

    Reads are billed per resource returned, and a post returned again the same UTC day is billed
    once (https://docs.x.com/x-api/fundamentals/post-cap, "Deduplication"); writes per request; a
    request that fails is not billed. "Owned reads" (the account's own timeline read by its own
    app) cost $0.001 a post since 2026-04-20.
    """

    post_create: int = 15
    """Content: Create, $0.015."""
    post_create_with_url: int = 200
    """Content: Create (with URL), $0.200: any URL twitter-text finds, a bare ``site.fr`` too."""
    post_read: int = 5
    """Posts: Read, $0.005 per post returned (GET /2/tweets, another user's timeline)."""
    owned_post_read: int = 1
    """Owned Reads, $0.001 per post of the account's own GET /2/users/:id/tweets."""
    user_read: int = 10
    """User: Read, $0.010 per user returned (GET /2/users/me)."""
    media_metadata: int = 5
    """Media Metadata, $0.005 per request (alt text)."""
    post_delete: int = 5
    """Content: Manage, $0.005 per request (which price X applies to deleting a post is an assumption)."""


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
    """Pay-per-use balance in credits of $0.001 (so 1000 is $1); None is unlimited. Every billable
    call is charged at :attr:`prices` (see :meth:`EmulatorState.charges`, kept even when unlimited);
    once the balance is spent every endpoint answers 402 CreditsDepleted."""
    prices: Prices = field(default_factory=Prices)
    wrap_links: bool = True
    """Answer with links wrapped in t.co as X does; turn off only to debug a test."""
    unwind_links: bool = True
    """Give each link a ``status`` 200 and an ``unwound_url`` (itself, or what :meth:`EmulatorState.set_unwound`
    says), as X does for links it could fetch; off: no link is resolved."""
    web_host: str = "x.com"
    """Host of the links X makes for media (``https://x.com/<user>/status/<id>/photo/1``, ``pic.x.com/…``);
    ``twitter.com`` in answers before the 2024 rename."""
    timeline_delay_seconds: float = 0.0
    """How long a new post takes to show in GET /2/users/:id/tweets (X's timeline is eventually
    consistent; the post itself exists, and GET /2/tweets finds it, at once)."""
    media_processing_seconds: float = 1.0
    """How long a GIF or video uploaded in chunks stays ``pending`` after FINALIZE."""


@dataclass
class StoredTweet:
    id: str
    text: str
    """As received (NFC)."""
    display_text: str
    """As X shows it: t.co links, the media link appended, ``&amp;``."""
    urls: tuple[UrlEntity, ...]
    media_ids: tuple[str, ...]
    created_at: datetime
    cashtags: tuple[CashtagEntity, ...] = ()
    media_keys: tuple[str, ...] = ()
    kind: str = "post"
    """``post``, ``reply`` or ``retweet`` (what ``exclude`` filters); only seeding makes the last two."""
    posted_at: float | None = None
    """Clock time the API accepted it; None for seeded history, which the timeline always shows."""
    public_metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PUBLIC_METRICS, 0))
    non_public_metrics: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NON_PUBLIC_METRICS, 0))

    def entities(self) -> dict[str, object]:
        return Rendered(self.display_text, self.urls, self.cashtags).entities()


@dataclass
class StoredMedia:
    id: str
    mime: str
    size: int
    category: str
    uploaded_at: float
    alt_text: str | None = None
    state: str = "succeeded"
    """``uploading`` (chunked, before FINALIZE), ``pending``/``in_progress`` (processing), ``succeeded``."""
    total_bytes: int = 0
    segments: dict[int, int] = field(default_factory=dict)
    """Chunked upload: bytes received per ``segment_index``."""
    finalized_at: float | None = None

    @property
    def key(self) -> str:
        return f"{MEDIA_KEY_PREFIX.get(self.category, '3')}_{self.id}"


@dataclass(frozen=True)
class Charge:
    """One billed item: what, how many resources or requests, and the credits it took."""

    route: str
    item: str
    count: int
    credits: int
    at: float


@dataclass(frozen=True)
class TimelineQuery:
    """The filters of GET /2/users/:id/tweets, already validated."""

    max_results: int = 10
    since_id: int | None = None
    until_id: int | None = None
    start_time: float | None = None
    end_time: float | None = None
    exclude: frozenset[str] = frozenset()
    pagination_token: str | None = None
    recent_only: bool = False
    """Only the last 30 days (X narrows the timeline so when private metrics are asked for)."""


@dataclass(frozen=True)
class TimelinePage:
    tweets: list[StoredTweet]
    next_token: str | None
    previous_token: str | None


class UnknownPageToken(Exception):
    """A ``pagination_token`` this emulator never handed out."""


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
    """Seconds to hold the request before X handles it (a client that gives up sooner finds the
    post there afterwards), or, with ``accept_then_fail``/``answer_late``, to hold the answer."""
    accept_then_fail: bool = False
    """Handle the request, then answer ``status`` (503) instead of the real answer, after ``delay``."""
    detail: str | None = None
    answer_late: bool = False
    """Handle the request at once, then hold the real answer ``delay`` seconds: the post exists
    while the client is still waiting, and a client timeout comes after it."""
    refusal: str | None = None
    """Refuse one post the way X does, after authentication and the rate window: a name of
    :data:`relay.testing.x_emulator_problems.REFUSALS` (``reply_restricted``, ``cashtags``,
    ``not_permitted``, ``duplicate``), answered 403 with X's exact detail."""


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


_ROUTE_PATTERNS = (
    ("GET", re.compile(r"/2/users/[^/]+/tweets"), "GET /2/users/:id/tweets"),
    ("GET", re.compile(r"/2/tweets/[^/]+"), "GET /2/tweets/:id"),
    ("DELETE", re.compile(r"/2/tweets/[^/]+"), "DELETE /2/tweets/:id"),
    ("POST", re.compile(r"/2/media/upload/[0-9]+/append"), "POST /2/media/upload/:id/append"),
    ("POST", re.compile(r"/2/media/upload/[0-9]+/finalize"), "POST /2/media/upload/:id/finalize"),
)


def route_of(method: str, path: str) -> str | None:
    """The rate-limited route a request belongs to (``GET /2/users/:id/tweets``), if any."""
    method = method.upper()
    route = f"{method} {path}"
    if route in ROUTE_LIMITS:
        return route
    for verb, pattern, name in _ROUTE_PATTERNS:
        if method == verb and pattern.fullmatch(path):
            return name
    return None


def utc_day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")


def has_url(text: str) -> bool:
    """Whether X bills the post as "with URL": twitter-text finds a URL in it (a bare ``site.fr`` too)."""
    return bool(twitter_text.extract_urls(text))


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
        self._charges: list[Charge] = []
        self._billed_posts: set[tuple[str, str]] = set()
        self._page_tokens: dict[str, tuple[str, int]] = {}
        self._unwound: dict[str, tuple[int, str] | None] = {}
        self._timeline_delay = self.config.timeline_delay_seconds
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
        kind: str = "post",
    ) -> StoredTweet:
        """Store a tweet (a live one is billed). Raises DuplicateTweet or UnknownMedia.

        ``created_at`` set means seeded history: not billed, never a duplicate, shown at once.
        """
        text = unicodedata.normalize("NFC", text)
        with self._lock:
            now = self.clock()
            if check_duplicate and text and any(t.text == text for t in self._tweets.values()):
                raise DuplicateTweet(text)
            keys = []
            for media_id in media_ids:
                media = self._media.get(media_id)
                if media is None or media.state != "succeeded" or now - media.uploaded_at > MEDIA_LIFETIME_SECONDS:
                    raise UnknownMedia(media_id)
                keys.append(media.key)
            live = created_at is None
            moment = now if created_at is None else created_at
            tweet_id = self._next_id(moment, live=live)
            if self.config.wrap_links:
                shown = render(text, tweet_id, media_keys=keys, username=self.config.username,
                               web_host=self.config.web_host, resolve=self._resolve)
            else:
                shown = Rendered(text)
            tweet = StoredTweet(
                tweet_id, text, shown.text, shown.urls, media_ids, datetime.fromtimestamp(moment, UTC),
                cashtags=shown.cashtags, media_keys=tuple(keys), kind=kind, posted_at=now if live else None,
            )
            self._tweets[tweet_id] = tweet
            if live:
                prices = self.config.prices
                price = prices.post_create_with_url if has_url(text) else prices.post_create
                self._charge("POST /2/tweets", "post_create_with_url" if has_url(text) else "post_create", 1, price)
            return _copy(tweet)

    def delete_tweet(self, tweet_id: str) -> bool:
        """Remove a tweet (billed as one request); False when there is none with that id."""
        with self._lock:
            if self._tweets.pop(tweet_id, None) is None:
                return False
            self._charge("DELETE /2/tweets/:id", "post_delete", 1, self.config.prices.post_delete)
            return True

    def _resolve(self, url: str) -> tuple[int, str] | None:
        if url in self._unwound:
            return self._unwound[url]
        return (200, url) if self.config.unwind_links else None

    def set_unwound(self, url: str, unwound_url: str | None, status: int = 200) -> None:
        """What X finds at ``url`` for posts made from now on: a redirect target, or None (X could not fetch it)."""
        with self._lock:
            self._unwound[url] = None if unwound_url is None else (status, unwound_url)

    # --- the timeline -------------------------------------------------------------------------

    def set_timeline_delay(self, seconds: float) -> None:
        with self._lock:
            self._timeline_delay = seconds

    def timeline_delay(self) -> float:
        with self._lock:
            return self._timeline_delay

    def _page_token(self, direction: str, boundary: int) -> str:
        """An opaque token (45 lower-case letters and digits, like X's) for the page beyond ``boundary``."""
        seed = f"{self._generation}:{direction}:{boundary}".encode()
        number = int.from_bytes(hashlib.sha256(seed).digest(), "big")
        digits = []
        for _ in range(45):
            number, rest = divmod(number, 36)
            digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[rest])
        token = "".join(digits)
        self._page_tokens[token] = (direction, boundary)
        while len(self._page_tokens) > PAGE_TOKENS_KEPT:
            del self._page_tokens[next(iter(self._page_tokens))]
        return token

    def timeline(self, query: TimelineQuery) -> TimelinePage:
        """One page of the account's timeline, newest first, as X pages it. Raises UnknownPageToken."""
        with self._lock:
            now = self.clock()
            shown = [
                t for t in self._tweets.values()
                if t.posted_at is None or now >= t.posted_at + self._timeline_delay
            ]
            newest_first = sorted(shown, key=lambda t: int(t.id), reverse=True)[:TIMELINE_REACH]
            matching = [t for t in newest_first if self._matches(t, query, now)]
            token = None
            if query.pagination_token is not None:
                token = self._page_tokens.get(query.pagination_token)
                if token is None:
                    raise UnknownPageToken(query.pagination_token)
            if token is None:
                page = matching[: query.max_results]
            elif token[0] == "next":
                page = [t for t in matching if int(t.id) < token[1]][: query.max_results]
            else:
                newer = [t for t in matching if int(t.id) > token[1]]
                page = newer[-query.max_results :]
            next_token = previous_token = None
            if page and any(int(t.id) < int(page[-1].id) for t in matching):
                next_token = self._page_token("next", int(page[-1].id))
            if page and token is not None and any(int(t.id) > int(page[0].id) for t in matching):
                previous_token = self._page_token("previous", int(page[0].id))
            return TimelinePage([_copy(t) for t in page], next_token, previous_token)

    @staticmethod
    def _matches(tweet: StoredTweet, query: TimelineQuery, now: float) -> bool:
        number, created = int(tweet.id), tweet.created_at.timestamp()
        if {"reply": "replies", "retweet": "retweets"}.get(tweet.kind) in query.exclude:
            return False
        if query.since_id is not None and number <= query.since_id:
            return False
        if query.until_id is not None and number >= query.until_id:
            return False
        # start_time and end_time are inclusive, to the second (X's docs).
        if query.start_time is not None and created < query.start_time:
            return False
        if query.end_time is not None and created >= query.end_time + 1:
            return False
        return not (query.recent_only and created < now - 30 * 86400)

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
        """An image uploaded in one request: ready at once."""
        with self._lock:
            now = self.clock()
            media = StoredMedia(self._next_id(now), mime, size, category, now)
            self._media[media.id] = media
            return replace(media, segments=dict(media.segments))

    def start_upload(self, mime: str, total_bytes: int, category: str) -> StoredMedia:
        """INIT of a chunked upload: an id that takes APPENDs until FINALIZE."""
        with self._lock:
            now = self.clock()
            media = StoredMedia(self._next_id(now), mime, 0, category, now, state="uploading", total_bytes=total_bytes)
            self._media[media.id] = media
            return replace(media, segments={})

    def append_upload(self, media_id: str, segment_index: int, size: int) -> StoredMedia | None:
        """APPEND one segment; None when there is no upload in progress with that id."""
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.state != "uploading":
                return None
            media.segments[segment_index] = size
            return replace(media, segments=dict(media.segments))

    def finalize_upload(self, media_id: str) -> StoredMedia | None:
        """FINALIZE: the size is what was appended; GIFs and videos then process for a while."""
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.state != "uploading":
                return None
            media.size = sum(media.segments.values())
            media.finalized_at = self.clock()
            processing = media.category in ("tweet_gif", "dm_gif", "tweet_video", "dm_video", "amplify_video")
            media.state = "pending" if processing and self.config.media_processing_seconds > 0 else "succeeded"
            return replace(media, segments=dict(media.segments))

    def upload_status(self, media_id: str) -> StoredMedia | None:
        """The media with its processing state brought up to date (STATUS)."""
        with self._lock:
            media = self._media.get(media_id)
            if media is None:
                return None
            if media.state in ("pending", "in_progress") and media.finalized_at is not None:
                elapsed = self.clock() - media.finalized_at
                done = elapsed >= self.config.media_processing_seconds
                media.state = "succeeded" if done else "in_progress"
            return replace(media, segments=dict(media.segments))

    def processing_info(self, media: StoredMedia) -> dict[str, object] | None:
        """``processing_info`` as X shows it, None once there is nothing to wait for."""
        if media.state == "uploading" or (media.state == "succeeded" and media.finalized_at is None):
            return None
        if media.state == "succeeded":
            return {"state": "succeeded", "progress_percent": 100}
        left = self.config.media_processing_seconds - (self.clock() - (media.finalized_at or self.clock()))
        info: dict[str, object] = {"state": media.state, "check_after_secs": max(1, math.ceil(left))}
        if media.state == "in_progress":
            total = self.config.media_processing_seconds or 1
            info["progress_percent"] = min(99, max(1, int(100 * (total - left) / total)))
        return info

    def set_alt_text(self, media_id: str, alt_text: str) -> bool:
        with self._lock:
            media = self._media.get(media_id)
            if media is None:
                return False
            media.alt_text = alt_text
            self._charge("POST /2/media/metadata", "media_metadata", 1, self.config.prices.media_metadata)
            return True

    def media(self) -> list[StoredMedia]:
        with self._lock:
            return [replace(m, segments=dict(m.segments)) for m in self._media.values()]

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

    def _charge(self, route: str, item: str, count: int, credits: int) -> None:
        """Record a charge and take it from the balance (which stops at 0; the next call is refused)."""
        if count <= 0:
            return
        self._charges.append(Charge(route, item, count, credits, self.clock()))
        if self._credits is not None:
            self._credits = max(0, self._credits - credits)

    def bill_post_reads(self, route: str, post_ids: Iterable[str], *, owned: bool) -> int:
        """Charge the posts an answer returned, each once a UTC day; the credits charged."""
        with self._lock:
            day = utc_day(self.clock())
            fresh = [i for i in dict.fromkeys(post_ids) if (i, day) not in self._billed_posts]
            self._billed_posts.update((i, day) for i in fresh)
            price = self.config.prices.owned_post_read if owned else self.config.prices.post_read
            self._charge(route, "owned_post_read" if owned else "post_read", len(fresh), price * len(fresh))
            return price * len(fresh)

    def bill_user_reads(self, route: str, count: int) -> None:
        with self._lock:
            self._charge(route, "user_read", count, self.config.prices.user_read * count)

    def charges(self) -> list[Charge]:
        """Every billed call since the last reset, oldest first (recorded even with unlimited credits)."""
        with self._lock:
            return list(self._charges)

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
