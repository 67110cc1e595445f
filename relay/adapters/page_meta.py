"""What an article page tells X about itself: Open Graph, Twitter card and canonical tags.

WordPress feeds never carry the featured image, so relay reads it from the page, and the
same tags decide whether X shows a large card under the tweet. Pages in the wild get these
tags wrong in the ways handled here: several ``og:image`` (the first one counts, as for X's
crawler), empty ones, unrendered ``{{template}}`` placeholders, ``name=`` instead of
``property=``, ``&amp;amp;`` double escaping, and a declared charset that lies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.element import Tag
from bs4.filter import SoupStrainer

from relay.adapters.json_feed import absolute_http_url, decode_entities
from relay.core.summary import without_unclosed_tags

NO_CARD_WARNING = "SEO readiness: no twitter:card / og:image — X will show no large card"
_TEMPLATE_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\$\{.*?\}|<%.*?%>")
_WHITESPACE = re.compile(r"[ \t\r\n\f\v]+")
_HEAD_SEARCH_LIMIT = 1024 * 1024
_HEAD_END_TEXT = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)
_HEAD_END_BYTES = re.compile(rb"</head\s*>|<body[\s>]", re.IGNORECASE)


@dataclass(frozen=True)
class PageMeta:
    """The card-related facts of one page; every URL is absolute, every text plain."""

    og_image: str | None = None
    """``og:image``, else ``twitter:image`` (X itself falls back between the two)."""
    og_image_alt: str | None = None
    og_title: str | None = None
    """``og:title``, else ``twitter:title``, else ``<title>``."""
    og_description: str | None = None
    """``og:description``, else ``twitter:description``, else ``<meta name="description">``."""
    twitter_card: str | None = None
    canonical_url: str | None = None
    """``<link rel="canonical">``, else ``og:url``."""
    warnings: tuple[str, ...] = field(default_factory=tuple)


def parse_page_meta(html: bytes | str, *, url: str) -> PageMeta:
    """Read the card tags of an HTML page fetched from ``url`` (relative URLs resolve against it)."""
    only_head_tags = SoupStrainer(["meta", "link", "title", "base"])
    soup = BeautifulSoup(_closed_tags_only(_as_text(_head_only(html))), "html.parser", parse_only=only_head_tags)
    base_url = _base_url(soup, url)
    values = _meta_values(soup)
    warnings: list[str] = []

    def first_text(*keys: str) -> str | None:
        for key in keys:
            for value in values.get(key, []):
                if (cleaned := _clean_text(value)) is not None:
                    return cleaned
        return None

    def first_url(*keys: str) -> str | None:
        for key in keys:
            for value in values.get(key, []):
                if _TEMPLATE_PLACEHOLDER.search(value):
                    warnings.append(f"{key} {value!r} is an unrendered template placeholder; ignored")
                elif found := absolute_http_url(_undo_double_escaping(value), base_url):
                    return found
        return None

    og_image = first_url("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
    twitter_card = first_text("twitter:card")
    if og_image is None and twitter_card is None:
        warnings.append(NO_CARD_WARNING)
    elif og_image is not None and "placeholder" in urlsplit(og_image).path.lower():
        warnings.append(f"og:image {og_image} looks like a site-wide placeholder, not this article's image")
    title_tag = soup.find("title")
    return PageMeta(
        og_image=og_image,
        og_image_alt=first_text("og:image:alt", "twitter:image:alt"),
        og_title=first_text("og:title", "twitter:title")
        or (_clean_text(title_tag.get_text()) if isinstance(title_tag, Tag) else None),
        og_description=first_text("og:description", "twitter:description", "description"),
        twitter_card=twitter_card,
        canonical_url=_canonical_url(soup, base_url) or first_url("og:url"),
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _head_only(page: bytes | str) -> bytes | str:
    """The page up to ``</head>`` (or ``<body>``), at most 1 MB: where card tags live.

    html.parser needs ~1.5 s per MB whatever it keeps, and an article body can be long; no
    page of the corpus has a card tag after its first ``</head>``.
    """
    if isinstance(page, str):
        text_end = _HEAD_END_TEXT.search(page, 0, _HEAD_SEARCH_LIMIT)
        return page[: text_end.start() if text_end else _HEAD_SEARCH_LIMIT]
    bytes_end = _HEAD_END_BYTES.search(page, 0, _HEAD_SEARCH_LIMIT)
    return page[: bytes_end.start() if bytes_end else _HEAD_SEARCH_LIMIT]


_UNCLOSED_TAG_BYTES = re.compile(rb"<(?=/?[A-Za-z])(?=[^<>]*+(?:<|$))")


def _closed_tags_only(page: str | bytes) -> str | bytes:
    """See :func:`relay.core.summary.without_unclosed_tags`: html.parser is quadratic on unclosed tags."""
    if isinstance(page, str):
        return without_unclosed_tags(page)
    return _UNCLOSED_TAG_BYTES.sub(b"&lt;", page)


def _as_text(page: bytes | str) -> str | bytes:
    """Bytes that are valid UTF-8 are UTF-8, whatever the page's ``<meta charset>`` claims.

    Latin-1 text with accents is almost never valid UTF-8, so the check cannot mislead;
    anything else goes to BeautifulSoup, which honours the declared charset. A character
    cut in two at the 1 MB limit does not count against UTF-8.
    """
    if isinstance(page, str):
        return page
    try:
        return page.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return page[: exc.start].decode("utf-8", errors="replace")
        return page


def _meta_values(soup: BeautifulSoup) -> dict[str, list[str]]:
    """``<meta property|name=K content=V>`` grouped by lower-cased K, in document order."""
    values: dict[str, list[str]] = {}
    for meta in soup.find_all("meta"):
        key = meta.get("property") or meta.get("name")
        content = meta.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            values.setdefault(key.strip().lower(), []).append(content.strip())
    return values


def _canonical_url(soup: BeautifulSoup, base_url: str) -> str | None:
    for link in soup.find_all("link"):
        rel = link.get("rel")
        rels: list[str] = rel.split() if isinstance(rel, str) else list(rel or [])
        href = link.get("href")
        if "canonical" in (r.lower() for r in rels) and isinstance(href, str):
            if _TEMPLATE_PLACEHOLDER.search(href):
                continue
            if found := absolute_http_url(_undo_double_escaping(href), base_url):
                return found
    return None


def _base_url(soup: BeautifulSoup, url: str) -> str:
    """``<base href>`` changes what relative URLs in the page mean; honour it as browsers do."""
    base = soup.find("base")
    href = base.get("href") if isinstance(base, Tag) else None
    return urljoin(url, href) if isinstance(href, str) and href.strip() else url


def _undo_double_escaping(url: str) -> str:
    """``&amp;amp;`` in the source is ``&amp;`` once parsed; only that is undone (``&not=`` is a query)."""
    return url.replace("&amp;", "&")


def _clean_text(value: str) -> str | None:
    """Plain text with entities decoded (``&#039;`` survives one parse), or None when empty or a template."""
    if _TEMPLATE_PLACEHOLDER.search(value):
        return None
    cleaned = _WHITESPACE.sub(" ", decode_entities(value)).strip()
    return cleaned or None
