"""A post built from its web page alone, for ``republish`` by address."""

from __future__ import annotations

from relay.adapters.page_meta import parse_page_meta
from relay.adapters.safe_fetch import Fetched, SafeFetcher
from relay.core.identity import site_host
from relay.core.models import Post
from relay.errors import FetchError


def post_from_page(url: str, fetcher: SafeFetcher) -> Post:
    """Fetch ``url`` (address checks, size cap, redirects checked) and read its og:/twitter: tags."""
    return post_from_fetched(url, fetcher.fetch_page(url))


def post_from_fetched(url: str, page: Fetched) -> Post:
    """The post a fetched page describes (blocking: parsing a page takes a few milliseconds)."""
    if "html" not in page.content_type:
        raise FetchError(f"{url} is {page.content_type or 'of unknown type'}, not a web page")
    meta = parse_page_meta(page.body, url=page.url)
    address = page.url
    if meta.canonical_url and site_host(meta.canonical_url) == site_host(page.url):
        address = meta.canonical_url
    if not meta.og_title:
        raise FetchError(f"{url} has no title relay can use (no og:title, no <title>): is it a blog post?")
    return Post(
        url=address,
        title=meta.og_title,
        summary_html=meta.og_description or "",
        site=site_host(address),
        image_url=meta.og_image,
        image_alt=meta.og_image_alt,
        seo_warnings=tuple(meta.warnings),
    )
