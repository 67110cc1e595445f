"""``relay preview``: the tweets relay would post for a feed, without posting or storing.

It runs the same fetch, parse and compose steps as the poller, so what it shows is
what relay will do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from relay.adapters.feed_parser import parse_feed
from relay.adapters.http_fetch import FetchLimits, fetch, make_client
from relay.core.compose import ComposeOptions, compose_tweet
from relay.core.models import FeedDocument
from relay.errors import FeedError
from relay.settings import Settings


def load_document(source: str, *, base_url: str | None = None) -> FeedDocument:
    """Fetch a feed URL, or read a feed file, and parse it."""
    if source.startswith(("http://", "https://")):
        return asyncio.run(_fetch_and_parse(source))
    path = Path(source)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {source}: {exc.strerror}. Give a feed URL or an existing file.") from None
    # A file has no address of its own: the parser resolves relative links against the feed's <link>.
    return parse_feed(body, url=base_url or path.resolve().as_uri())


async def _fetch_and_parse(url: str) -> FeedDocument:
    limits = FetchLimits()
    async with make_client(limits) as client:
        result = await fetch(client, url, limits=limits)
    if result.body is None:  # cannot happen without validators, but say so rather than crash
        raise FeedError(f"{url} answered 304 Not Modified to a request without validators")
    return parse_feed(result.body, url=result.final_url, headers=result.headers)


def preview_tweets(
    source: str, *, settings: Settings, base_url: str | None = None, today: date
) -> Iterator[dict[str, Any]]:
    """One dict per entry that has a link: what would be posted, and its weighted length."""
    from relay.wiring import compose_options

    options = next((compose_options(f) for f in settings.feeds if f.url == source), ComposeOptions())
    document = load_document(source, base_url=base_url)
    for post in document.posts:
        if not post.url:
            continue
        tweet = compose_tweet(post, options, today=today)
        yield {
            "guid": post.guid,
            "url": post.url,
            "link": tweet.link,
            "title": post.title,
            "text": tweet.text,
            "weighted_length": tweet.weighted_length,
            "image": post.image_url,
        }
