"""The one exception tree of relay.

Library errors (httpx, tweepy, SQLAlchemy, feedparser) are translated into these once,
at the adapter that calls the library, with ``raise ... from exc``; nothing above the
adapters catches a library exception. Every message says what to do next and never
carries a secret.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every error relay raises on purpose."""


class ConfigError(RelayError):
    """A setting is wrong; start-up stops and the message names the key and the fix."""


class FeedError(RelayError):
    """A feed could not be fetched or parsed; recorded on the feed, never fatal."""


class FetchError(FeedError):
    """The HTTP fetch failed (timeout, too large, refused, bad status)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedParseError(FeedError):
    """The body is not a feed relay can read (no entries at all)."""


class PublishError(RelayError):
    """Posting to X failed. Subclasses say what the outbox should do about it."""


class RateLimited(PublishError):
    """X answered 429: wait until ``reset_at`` (Unix seconds) before trying again."""

    def __init__(self, message: str, *, reset_at: float | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class TransientPublishError(PublishError):
    """5xx, timeout, connection error: retry later with backoff."""


class DuplicateContent(PublishError):
    """X refused the text as a duplicate of an earlier tweet (403)."""


class TweetRejected(PublishError):
    """X refused the tweet itself (400, too long or invalid): retrying the same text is useless."""


class PostRefused(PublishError):
    """X refused this one post for a reason of its own (reply restrictions, cashtags, "not permitted to
    perform this action"): that delivery fails with X's reason, and the account keeps posting."""


class AccountBlocked(PublishError):
    """401, 403 permission, 402 CreditsDepleted: publishing for the account must pause until a human acts."""


class StoreError(RelayError):
    """The database failed in a way relay cannot handle by itself."""
