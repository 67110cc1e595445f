"""The seams between the service and the outside world.

The service is written against these protocols only, so tests can swap any adapter for a
fake and the one module that builds real adapters (:mod:`relay.wiring`) stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class PublishedTweet:
    """What the network returned for a post: its id (a Bluesky post's AT URI) and where people see it."""

    tweet_id: str
    text: str
    dry_run: bool = False
    url: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """The delivery a text belongs to, for networks that can make a retry harmless.

    Mastodon keeps an ``Idempotency-Key`` for an hour and answers a retry with the first status;
    Bluesky stores one record per key, and relay chooses the key. Both are derived from the
    delivery's id and the moment it was queued (both stored), so every attempt names the same post.
    """

    delivery_id: int
    queued_at: datetime
    extra: Mapping[str, Any] | None = None
    """What the network's composer made beside the text (Bluesky: facets and link card)."""

    @property
    def key(self) -> str:
        return f"relay-{self.delivery_id}-{int(self.queued_at.timestamp() * 1_000_000)}"


class PostedTweet(Protocol):
    """A tweet the account already has on X (for reconciling after a crash)."""

    @property
    def id(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def created_at(self) -> datetime | None: ...

    @property
    def links(self) -> Sequence[str]:
        """The addresses the tweet links to, as X resolved its ``t.co`` links (media links left out)."""
        ...


class Publisher(Protocol):
    """Posts to one account (X, Mastodon or Bluesky).

    Raises a :class:`relay.errors.PublishError` subclass on failure; never retries by
    itself (retry policy belongs to the outbox).
    """

    @property
    def dry_run(self) -> bool: ...

    def publish(self, text: str, media_ids: Sequence[str] | None = None, *,
                outgoing: Outgoing | None = None) -> PublishedTweet: ...

    def upload_image(self, data: bytes, mime: str, alt_text: str | None = None) -> str: ...

    def recent_posts(self, max_results: int = 100, since: datetime | None = None) -> Sequence[PostedTweet]:
        """The account's newest tweets, newest first, links expanded; with ``since``, all back to then."""
        ...


class ImageSource(Protocol):
    """Fetches a post's image for upload, within size and address limits."""

    def fetch_image(self, url: str) -> tuple[bytes, str]:
        """``(bytes, mime type)``; raises :class:`relay.errors.RelayError` when it cannot."""
        ...


class Clock(Protocol):
    """Time, injected so schedules and backoff are testable."""

    def now(self) -> datetime: ...
