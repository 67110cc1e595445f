"""The seams between the service and the outside world.

The service is written against these protocols only, so tests can swap any adapter for a
fake and the one module that builds real adapters (:mod:`relay.wiring`) stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class PublishedTweet:
    """What X returned for a posted tweet."""

    tweet_id: str
    text: str
    dry_run: bool = False


class Publisher(Protocol):
    """Posts a text to one X account.

    Raises a :class:`relay.errors.PublishError` subclass on failure; never retries by
    itself (retry policy belongs to the outbox).
    """

    @property
    def dry_run(self) -> bool: ...

    def publish(self, text: str) -> PublishedTweet: ...


class Clock(Protocol):
    """Time, injected so schedules and backoff are testable."""

    def now(self) -> datetime: ...
