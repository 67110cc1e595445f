"""Typed rows handed out by the store, so nothing above it touches SQLAlchemy rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relay.core.models import Post, Tweet


@dataclass(frozen=True)
class FeedRow:
    id: int
    url: str
    configured_url: str
    title: str
    status: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    baseline_at: datetime | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    error_count: int
    last_error: str | None
    last_new_entry_at: datetime | None


@dataclass(frozen=True)
class TrackedLink:
    """How to give a tweet a tracked link once its code exists (the code is made in the store's transaction)."""

    base_url: str
    """``server.public_url``: the tweet carries ``{base_url}/r/CODE``."""
    target_url: str
    """Where the code redirects: the UTM-tagged address of the post."""
    compose: Callable[[str], Tweet]
    """The tweet, given the tracked address to put in it."""


@dataclass(frozen=True)
class Message:
    """One delivery to queue: the text composed for one account, on its network."""

    account: str
    tweet: Tweet
    network: str = "x"
    tracking: TrackedLink | None = None
    """Set in tracked mode: ``tweet`` is then replaced by one carrying this delivery's own tracked link."""
    failure: str | None = None
    """Why no text could be made for this network (the delivery is recorded as failed, with this reason)."""


@dataclass(frozen=True)
class NewPost:
    """A post the service decided to record, with one message per account it goes out on."""

    post: Post
    dedup_key: str
    normalized_url: str
    source: str
    messages: tuple[Message, ...] = ()
    """Empty for a baseline post: remembered, never posted."""
    not_before: datetime | None = None
    """When the messages may go out (spacing of a burst); None means at once."""
    held: bool = False
    """Recorded but waiting for the operator (a suspicious burst of new entries)."""


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    post_id: int
    variant: int
    status: str
    text: str
    link: str
    weighted_length: int
    attempts: int
    next_attempt_at: datetime
    tweet_id: str | None
    dry_run: bool
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    account: str = "default"
    network: str = "x"
    remote_url: str | None = None
    """Where people see the post on its network, once sent."""
    extra: dict[str, Any] | None = None


def row_to(cls: type[Any], mapping: Any) -> Any:
    """Build a row dataclass from a SQLAlchemy mapping, ignoring extra columns."""
    fields = cls.__dataclass_fields__
    return cls(**{name: mapping[name] for name in fields})
