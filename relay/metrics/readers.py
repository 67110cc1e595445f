"""One way to read a post's counters back, whatever network it went to.

X, Mastodon and Bluesky each name their counters differently (X's ``retweet_count``,
Mastodon's ``reblogs_count``, Bluesky's ``repostCount``) and each publisher answers in its
own shape. The refresher should not care: each account's publisher is wrapped here in a
:class:`CountersReader` that answers ``{post id: Counters}`` in one vocabulary, the columns of
``engagement_snapshots`` (a boost or a repost is stored as ``retweets``).

The publishers are recognised by what they can do (``tweet_metrics``, ``status_metrics``,
``post_metrics``), not imported: only :mod:`relay.wiring` builds adapters. Only X bills its
reads; the X publisher records each charge itself (``on_billed``), so nothing here writes a
cost, and Mastodon and Bluesky reads cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Counters:
    """A post's counters at one moment; None where the network does not count that thing."""

    likes: int
    reposts: int
    """Retweets on X, boosts on Mastodon, reposts on Bluesky."""
    replies: int
    quotes: int | None = None
    """Mastodon has no quote count."""
    impressions: int | None = None
    """Only X counts views."""
    bookmarks: int | None = None
    url_link_clicks: int | None = None
    user_profile_clicks: int | None = None


@runtime_checkable
class CountersReader(Protocol):
    """Reads the counters of one account's posts; a post the network no longer has is left out."""

    network: str
    billed: bool
    """True when the network charges for each read (X)."""

    def read(self, ids: Sequence[str]) -> Mapping[str, Counters]: ...


# -- what each publisher offers (the shapes of relay.adapters' metrics) ---------------------------


class TweetCounters(Protocol):
    """The shape of :class:`relay.adapters.x.TweetMetrics` that relay relies on."""

    @property
    def impression_count(self) -> int: ...
    @property
    def like_count(self) -> int: ...
    @property
    def retweet_count(self) -> int: ...
    @property
    def reply_count(self) -> int: ...
    @property
    def quote_count(self) -> int: ...
    @property
    def bookmark_count(self) -> int: ...
    @property
    def url_link_clicks(self) -> int | None: ...
    @property
    def user_profile_clicks(self) -> int | None: ...


class StatusCounters(Protocol):
    """The shape of :class:`relay.adapters.mastodon.StatusMetrics`."""

    @property
    def favourites_count(self) -> int: ...
    @property
    def reblogs_count(self) -> int: ...
    @property
    def replies_count(self) -> int: ...


class PostCounters(Protocol):
    """The shape of :class:`relay.adapters.bluesky.BlueskyMetrics`."""

    @property
    def like_count(self) -> int: ...
    @property
    def repost_count(self) -> int: ...
    @property
    def reply_count(self) -> int: ...
    @property
    def quote_count(self) -> int: ...


@runtime_checkable
class XMetricsSource(Protocol):
    def tweet_metrics(self, ids: Sequence[str]) -> Mapping[str, TweetCounters]: ...


@runtime_checkable
class MastodonMetricsSource(Protocol):
    def status_metrics(self, ids: Sequence[str]) -> Mapping[str, StatusCounters]: ...


@runtime_checkable
class BlueskyMetricsSource(Protocol):
    def post_metrics(self, uris: Sequence[str]) -> Mapping[str, PostCounters]: ...


MetricsSource = XMetricsSource | MastodonMetricsSource | BlueskyMetricsSource
"""A publisher (or a test's stand-in) that can read its posts' counters."""


class XReader:
    network = "x"
    billed = True

    def __init__(self, source: XMetricsSource) -> None:
        self.source = source

    def read(self, ids: Sequence[str]) -> dict[str, Counters]:
        return {
            tweet_id: Counters(likes=m.like_count, reposts=m.retweet_count, replies=m.reply_count,
                               quotes=m.quote_count, impressions=m.impression_count, bookmarks=m.bookmark_count,
                               url_link_clicks=m.url_link_clicks, user_profile_clicks=m.user_profile_clicks)
            for tweet_id, m in self.source.tweet_metrics(ids).items()
        }


class MastodonReader:
    network = "mastodon"
    billed = False

    def __init__(self, source: MastodonMetricsSource) -> None:
        self.source = source

    def read(self, ids: Sequence[str]) -> dict[str, Counters]:
        return {
            status_id: Counters(likes=m.favourites_count, reposts=m.reblogs_count, replies=m.replies_count)
            for status_id, m in self.source.status_metrics(ids).items()
        }


class BlueskyReader:
    network = "bluesky"
    billed = False

    def __init__(self, source: BlueskyMetricsSource) -> None:
        self.source = source

    def read(self, ids: Sequence[str]) -> dict[str, Counters]:
        return {
            uri: Counters(likes=m.like_count, reposts=m.repost_count, replies=m.reply_count, quotes=m.quote_count)
            for uri, m in self.source.post_metrics(ids).items()
        }


def reader_for(source: object) -> CountersReader | None:
    """The reader for a publisher, by what it can read; None for one that reads nothing (dry-run)."""
    if isinstance(source, XMetricsSource):
        return XReader(source)
    if isinstance(source, MastodonMetricsSource):
        return MastodonReader(source)
    if isinstance(source, BlueskyMetricsSource):
        return BlueskyReader(source)
    return None
