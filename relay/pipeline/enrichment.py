"""Reading a new post's own page: the picture, the canonical address and the card tags.

Feeds never carry the featured image, and their links may be tracking redirects. The
page's ``og:image`` is what the author chose for sharing, and its ``rel=canonical`` is
the address worth tagging. Only posts about to be tweeted are read, once each, with the
same limits as feeds; a page that cannot be read leaves the post as the feed gave it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from relay.adapters.http_fetch import PAGE_ACCEPT, FetchLimits, fetch
from relay.adapters.page_meta import PageMeta, parse_page_meta
from relay.core.identity import site_host
from relay.core.models import Post
from relay.errors import FeedError

log = logging.getLogger("relay.enrich")
PAGE_LIMITS = FetchLimits(connect_timeout=5, read_timeout=10, total_timeout=20, max_bytes=2 * 1024 * 1024)


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
    def __init__(self, client: httpx.AsyncClient, *, limits: FetchLimits = PAGE_LIMITS, concurrency: int = 4) -> None:
        self.client = client
        self.limits = limits
        self._slots = asyncio.Semaphore(concurrency)

    async def enrich(self, posts: list[Post]) -> list[Post]:
        """Each post enriched from its page, in the same order; failures keep the feed's version."""
        return list(await asyncio.gather(*(self._one(post) for post in posts)))

    async def _one(self, post: Post) -> Post:
        async with self._slots:
            try:
                result = await fetch(self.client, post.url, limits=self.limits, accept=PAGE_ACCEPT)
            except FeedError as exc:
                log.info("post page not read; using the feed's data", extra={"url": post.url, "error": str(exc)})
                return post
        if result.body is None:
            return post
        meta = await asyncio.to_thread(parse_page_meta, result.body, url=result.final_url)
        return apply_page_meta(post, meta)
