"""Dry-run mode: relay without X credentials composes and records every tweet, and posts none.

Kept apart from the X adapter so that a relay in dry-run never loads tweepy and requests
(about 15 MB of a small VPS's memory, for a client it would not use).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from datetime import datetime

from relay.core.ports import Outgoing, PostedTweet, PublishedTweet

log = logging.getLogger("relay.publisher")


class DryRunPublisher:
    """Publishes nothing: logs the text and answers with a made-up id, for trying relay safely."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __repr__(self) -> str:
        return "DryRunPublisher()"

    @property
    def dry_run(self) -> bool:
        return True

    def publish(self, text: str, media_ids: Sequence[str] | None = None, *,
                outgoing: Outgoing | None = None) -> PublishedTweet:
        number = next(self._counter)
        log.info("dry run, not posted: %s", text, extra={"dry_run": True, "media_ids": list(media_ids or ())})
        return PublishedTweet(tweet_id=f"dry-run-{number}", text=text, dry_run=True)

    def upload_image(self, data: bytes, mime: str, alt_text: str | None = None) -> str:
        return f"dry-run-media-{next(self._counter)}"

    def recent_posts(self, max_results: int = 100, since: datetime | None = None) -> list[PostedTweet]:
        """Nothing was ever posted, so there is nothing to reconcile."""
        return []
