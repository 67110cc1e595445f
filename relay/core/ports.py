"""The seams between the service and the outside world.

The service is written against these protocols only, so tests can swap any adapter for a
fake and the one module that builds real adapters (:mod:`relay.wiring`) stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PublishedTweet:
    """What X returned for a posted tweet."""

    tweet_id: str
    text: str
    dry_run: bool = False


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
    """Posts to one X account.

    Raises a :class:`relay.errors.PublishError` subclass on failure; never retries by
    itself (retry policy belongs to the outbox).
    """

    @property
    def dry_run(self) -> bool: ...

    def publish(self, text: str, media_ids: Sequence[str] | None = None) -> PublishedTweet: ...

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
