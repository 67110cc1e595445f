"""Reading a new post's own page: the picture, the canonical address and the card tags.

Feeds never carry the featured image, and their links may be tracking redirects. The
page's ``og:image`` is what the author chose for sharing, and its ``rel=canonical`` is
the address worth tagging. Only posts about to be tweeted are read, once each, with the
guarded fetcher (the address comes from the feed: it may point at relay's own network);
a page that cannot be read leaves the post as the feed gave it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urlsplit

from relay.adapters.page_meta import PageMeta, parse_page_meta
from relay.adapters.safe_fetch import Fetched
from relay.core.identity import site_host
from relay.core.models import Post
from relay.errors import FeedError

log = logging.getLogger("relay.enrich")


def apply_page_meta(post: Post, meta: PageMeta) -> Post:
    """The post as its page describes it; the canonical address is trusted on the same site only."""
    url = post.url
    if meta.canonical_url and site_host(meta.canonical_url) == site_host(post.url):
        url = meta.canonical_url
    image, alt = post.image_url, post.image_alt
    if meta.og_image and urlsplit(meta.og_image).scheme in ("http", "https"):
        image, alt = meta.og_image, meta.og_image_alt or post.image_alt
    return replace(
        post,
        url=url,
        title=post.title or meta.og_title or "",
        summary_html=post.summary_html or meta.og_description or "",
        image_url=image,
        image_alt=alt,
        seo_warnings=tuple(meta.warnings),
    )


class PageEnricher:
    """Reads post pages with ``fetch_page``: :meth:`relay.adapters.safe_fetch.SafeFetcher.fetch_page_async`."""

    def __init__(self, fetch_page: Callable[[str], Awaitable[Fetched]], *, concurrency: int = 4) -> None:
        self.fetch_page = fetch_page
        self._slots = asyncio.Semaphore(concurrency)

    async def enrich(self, posts: list[Post]) -> list[Post]:
        """Each post enriched from its page, in the same order; failures keep the feed's version."""
        return list(await asyncio.gather(*(self._one(post) for post in posts)))

    async def _one(self, post: Post) -> Post:
        async with self._slots:
            try:
                page = await self.fetch_page(post.url)
            except FeedError as exc:
                log.info("post page not read; using the feed's data", extra={"url": post.url, "error": str(exc)})
                return post
        meta = await asyncio.to_thread(parse_page_meta, page.body, url=page.url)
        return apply_page_meta(post, meta)
