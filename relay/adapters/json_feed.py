"""JSON Feed 1.0 and 1.1 (jsonfeed.org) to :class:`FeedDocument`.

feedparser 6 cannot read JSON Feed at all, and some WordPress plugins and static-site
generators publish only that format, so relay maps it itself. The mapping mirrors the one
:mod:`relay.adapters.feed_parser` applies to RSS/Atom, so a post looks the same whichever
format its blog chose. The helpers both formats share live here, because ``feed_parser``
imports this module anyway (a helper module of their own would be a third place to look).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from relay.core.models import FeedDocument, Post
from relay.errors import FeedParseError

_WHITESPACE_EXCEPT_NBSP = re.compile(r"[ \t\r\n\f\v]+")
"""Collapses layout whitespace but keeps U+00A0 and U+202F, which French typography needs."""
MAX_ITEMS = 1_000
"""Items relay reads from one JSON Feed, the newest first: a blog shows its last 10 to 50; a
document of 100,000 items once took 23 s and queued 100,000 rows in one poll."""
_TERMINATED_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
"""Only ``;``-terminated entities: ``html.unescape`` alone turns ``&notes`` into ``¬es``."""


def looks_like_json_feed(body: bytes, content_type: str) -> bool:
    """A JSON body is announced by its media type, or (often, wrongly served) starts with ``{``."""
    if "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(body: bytes, *, url: str) -> FeedDocument:
    """Map a JSON Feed body; raise :class:`FeedParseError` when it is not one."""
    try:
        document = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(f"{url} looks like JSON but cannot be read as JSON ({exc}).") from exc
    if not isinstance(document, dict) or "jsonfeed.org/version/" not in str(document.get("version", "")):
        raise FeedParseError(
            f"{url} is JSON but not a JSON Feed (no jsonfeed.org version); "
            "check that the address points to the blog's feed."
        )
    site = plain_text(_text(document.get("title")))
    base_url = urljoin(url, _text(document.get("feed_url")) or url)
    items = document.get("items")
    items = items if isinstance(items, list) else []
    warnings: list[str] = []
    if len(items) > MAX_ITEMS:
        warnings.append(f"the feed lists {len(items):,} items; relay read the {MAX_ITEMS:,} newest")
        items = _newest(items, MAX_ITEMS)
    posts: list[Post] = []
    skipped = 0
    for item in items:
        post = _post_from_item(item, base_url=base_url, site=site) if isinstance(item, dict) else None
        if post is None:
            skipped += 1
        else:
            posts.append(post)
    if skipped:
        warnings.append(f"{skipped} item(s) without a link were skipped")
    hubs = document.get("hubs")
    hub_entries = hubs if isinstance(hubs, list) else []
    hub_urls = (absolute_http_url(_text(h.get("url")), url) for h in hub_entries if isinstance(h, dict))
    hub_url = next((h for h in hub_urls if h), None)
    return FeedDocument(
        posts=tuple(posts),
        title=site,
        site_url=absolute_http_url(_text(document.get("home_page_url")), url) or "",
        hub_url=hub_url,
        self_url=absolute_http_url(_text(document.get("feed_url")), url),
        warnings=tuple(warnings),
    )


def _newest(items: list[Any], count: int) -> list[Any]:
    """The ``count`` items with the latest dates (RFC 3339 strings sort by time), in feed order.

    Undated items count as oldest; among equals the feed's order decides, so a feed without
    dates keeps its first items, which the spec says are the newest.
    """

    def date_of(position: int) -> str:
        item = items[position]
        if not isinstance(item, dict):
            return ""
        return str(item.get("date_published") or item.get("date_modified") or "")[:40]

    ranked = sorted(range(len(items)), key=lambda position: (date_of(position), -position), reverse=True)
    return [items[position] for position in sorted(ranked[:count])]


def _post_from_item(item: Mapping[str, Any], *, base_url: str, site: str) -> Post | None:
    """One item; ``url`` is the post's own page, ``external_url`` only when there is no other link.

    In linklog items ``external_url`` is someone else's article: tweeting it would send the
    readers away from the blog that relay promotes.
    """
    guid = _text(item.get("id")) or None
    link = (
        absolute_http_url(_text(item.get("url")), base_url)
        or (guid if guid and is_absolute_http_url(guid) else None)
        or absolute_http_url(_text(item.get("external_url")), base_url)
    )
    if not link:
        return None
    content_text = _text(item.get("content_text"))
    content_html = _text(item.get("content_html")) or (html.escape(content_text) if content_text else "")
    summary = _text(item.get("summary"))
    return Post(
        url=link,
        guid=guid,
        title=plain_text(_text(item.get("title"))),
        summary_html=html.escape(summary) if summary else "",
        content_html=content_html,
        author=_first_author_name(item),
        site=site,
        categories=_tags(item.get("tags")),
        published_at=_rfc3339(_text(item.get("date_published")) or _text(item.get("date_modified"))),
        image_url=absolute_http_url(_text(item.get("image")) or _text(item.get("banner_image")), base_url)
        or _image_attachment(item, base_url),
        wordpress_id=wordpress_post_id(guid, link),
    )


def _tags(tags: object) -> tuple[str, ...]:
    names = (plain_text(tag) for tag in tags if isinstance(tag, str)) if isinstance(tags, list) else ()
    return tuple(dict.fromkeys(name for name in names if name))


def _first_author_name(item: Mapping[str, Any]) -> str:
    """1.1 has ``authors`` (a list), 1.0 a single ``author``; both are read."""
    authors = item.get("authors")
    candidates = authors if isinstance(authors, list) else [item.get("author")]
    for author in candidates:
        if isinstance(author, dict) and _text(author.get("name")).strip():
            return plain_text(_text(author.get("name")))
    return ""


def _image_attachment(item: Mapping[str, Any], base_url: str) -> str | None:
    attachments = item.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict) and _text(attachment.get("mime_type")).startswith("image/"):
            found = absolute_http_url(_text(attachment.get("url")), base_url)
            if found:
                return found
    return None


def _rfc3339(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: object) -> str:
    """JSON from the wild puts numbers, nulls and lists where strings belong; only strings count."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def plain_text(text: str) -> str:
    """Decode entities left in a plain-text field and collapse layout whitespace.

    Feeds double-escape often (``&#8364;`` inside CDATA, ``&amp;eacute;``), and a tweet must
    never show an entity. Non-breaking spaces survive: French puts them before ``:;!?»``.
    """
    return _WHITESPACE_EXCEPT_NBSP.sub(" ", decode_entities(text)).strip()


def decode_entities(text: str) -> str:
    """Decode ``&eacute;``, ``&#8364;``, ``&#x2019;``; leave a bare ``&`` and ``&not`` alone."""
    return _TERMINATED_ENTITY.sub(lambda match: html.unescape(match.group()), text)


def absolute_http_url(candidate: str, base_url: str) -> str | None:
    """Resolve against the feed's address; only http(s) links are worth a tweet."""
    candidate = candidate.strip()
    if not candidate:
        return None
    resolved = urljoin(base_url, candidate)
    parts = urlsplit(resolved)
    return resolved if parts.scheme in ("http", "https") and parts.netloc else None


def is_absolute_http_url(text: str) -> bool:
    """A GUID stands in for a missing link only when it is already a full web address."""
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def wordpress_post_id(guid: str | None, link: str) -> int | None:
    """The ID in a WordPress ``?p=NNN`` GUID (or link), when it is on the post's own host.

    The host check stops a GUID copied from another blog (aggregators, syndication) from
    being taken for one of this blog's post IDs; ``www.`` is ignored on both sides.
    """
    link_host = _bare_host(link)
    for candidate in (guid or "", link):
        parts = urlsplit(candidate)
        if parts.scheme not in ("http", "https") or _bare_host(candidate) != link_host:
            continue
        values = parse_qs(parts.query).get("p", [])
        if len(values) == 1 and values[0].isascii() and values[0].isdigit() and len(values[0]) < 19:
            return int(values[0])
    return None


def _bare_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")
