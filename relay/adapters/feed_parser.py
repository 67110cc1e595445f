"""A fetched RSS, Atom, RDF or JSON Feed body to a :class:`FeedDocument`.

feedparser does the format and encoding work (it survives wrong charsets, missing XML
declarations and broken markup); this module decides what relay takes from its output
and guards the two holes feedparser leaves open:

* ``feedparser.parse(b"/etc/passwd")`` opens that *local file*, so the body is always
  handed over as a stream, never as bytes.
* entity declarations in a DOCTYPE reach expat, whose billion-laughs guard still lets
  the document expand to megabytes of callbacks (a 2 MB feed once took 2 minutes and
  2.5 GB). feedparser's XML parser is defusedxml's expat reader, which stops at the first
  entity declaration wherever it stands (after comments, padding or a BOM, which a scan
  of the first bytes missed); feedparser then reads the feed with its loose parser,
  which expands no declared entity, and relay warns.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import io
import re
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import feedparser.api
from bs4 import BeautifulSoup
from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser

from relay.adapters.json_feed import (
    absolute_http_url,
    is_absolute_http_url,
    looks_like_json_feed,
    parse_json_feed,
    plain_text,
    wordpress_post_id,
)
from relay.core.models import FeedDocument, Post
from relay.core.summary import without_unclosed_tags
from relay.errors import FeedParseError

_MAX_MARKUP = 100_000
"""Tags (raw or ``&lt;``-escaped) relay agrees to parse: feedparser spends 30-80 µs on each, so
this caps a hostile body at a few seconds of CPU. Real feeds have 20-50 per KB (5,000 for a
290 KB Blogger feed); a 10 MB body of bare ``<a>`` would otherwise cost four minutes."""
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_NOT_A_FEATURED_IMAGE = (
    "gravatar.com",
    "feeds.feedburner.com",
    "feeds.wordpress.com",
    "pixel.wp.com",
    "stats.wordpress.com",
    "/stat?",
    "s.w.org/images/core/emoji",
    "/plugins/",
    "flattr",
)
"""Author avatars, share buttons, tracking pixels and emoji: images in a feed that never illustrate a post."""


class EntityDeclarationRefused(xml.sax.SAXException):
    """The feed declares XML entities: feedparser's strict parser stops there (see :func:`create_parser`)."""


class _EntityRefusingParser(DefusedExpatParser):
    """defusedxml's expat reader, its refusal turned into the SAX error feedparser knows how to handle."""

    def __init__(self) -> None:
        # An external DTD *reference* (RSS 0.91's) is harmless: feedparser never loads it.
        super().__init__(forbid_dtd=False, forbid_entities=True, forbid_external=False)

    def parse(self, source: Any) -> None:
        try:
            super().parse(source)
        except DefusedXmlException as exc:
            raise EntityDeclarationRefused(str(exc)) from exc


def create_parser() -> xml.sax.xmlreader.XMLReader:
    """The SAX driver feedparser uses (this module is first in its ``PREFERRED_XML_PARSERS``)."""
    return _EntityRefusingParser()


feedparser.api.PREFERRED_XML_PARSERS = [__name__]
_BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride, EntityDeclarationRefused)
_ENTITIES_WARNING = "the feed's DOCTYPE declared XML entities; relay ignored them (they can exhaust memory)"

_LOCAL_MONTHS = {
    # French and Portuguese month names and abbreviations (other tokens pass through unchanged).
    "janv": "Jan", "janvier": "Jan", "janeiro": "Jan", "fév": "Feb", "févr": "Feb", "fev": "Feb",
    "fevr": "Feb", "février": "Feb", "fevrier": "Feb", "fevereiro": "Feb", "mars": "Mar", "mar": "Mar",
    "março": "Mar", "marco": "Mar", "avr": "Apr", "avril": "Apr", "abr": "Apr", "abril": "Apr",
    "mai": "May", "maio": "May", "juin": "Jun", "junho": "Jun", "juil": "Jul", "juillet": "Jul",
    "julho": "Jul", "août": "Aug", "aout": "Aug", "ago": "Aug", "agosto": "Aug", "sept": "Sep",
    "septembre": "Sep", "set": "Sep", "setembro": "Sep", "octobre": "Oct", "out": "Oct",
    "outubro": "Oct", "novembre": "Nov", "novembro": "Nov", "déc": "Dec", "décembre": "Dec",
    "decembre": "Dec", "dez": "Dec", "dezembro": "Dec",
}  # fmt: skip
_LOCAL_DATE = re.compile(r"^\s*(?:[^\W\d]+\.?,?\s+)?(\d{1,2})\s+([^\W\d]+)\.?\s+(\d{4})\s*(.*)$")


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> FeedDocument:
    """Parse a feed body fetched from ``url`` (the final address, against which relative links resolve).

    When ``url`` is not http(s) (a file), relative links resolve against the feed's own site
    link if that is absolute; entries whose link still is not absolute are skipped.

    A feed with errors but readable entries is used, with the error in ``warnings``; a body
    that is broken with no readable entry, or not a feed at all, raises :class:`FeedParseError`.
    """
    response_headers = {name.lower(): value for name, value in (headers or {}).items()}
    if looks_like_json_feed(body, response_headers.get("content-type", "")):
        return parse_json_feed(body, url=url)
    if (markup := body.count(b"<") + body.count(b"&lt;")) > _MAX_MARKUP:
        raise FeedParseError(
            f"{url} holds {markup:,} tags, more than the {_MAX_MARKUP:,} relay parses (a few seconds of work); "
            "a blog feed needs only its latest entries, so ask the site to shorten it."
        )
    warnings: list[str] = []
    body = _without_leading_whitespace(body)
    parsed = feedparser.parse(io.BytesIO(body), response_headers=_feedparser_headers(response_headers, url))
    if isinstance(parsed.get("bozo_exception"), EntityDeclarationRefused):
        warnings.append(_ENTITIES_WARNING)
    warnings += _problems_or_raise(parsed, url)
    base_url = url if is_absolute_http_url(url) else (absolute_http_url(parsed.feed.get("link", ""), url) or url)
    site = _plain_title(parsed.feed)
    posts = [post for entry in parsed.entries if (post := _post_from_entry(entry, feed_url=base_url, site=site))]
    if (skipped := len(parsed.entries) - len(posts)) == 1:
        warnings.append("1 entry without a usable link was skipped")
    elif skipped:
        warnings.append(f"{skipped} entries without a usable link were skipped")
    if parsed.get("bozo") and parsed.entries and not posts:
        raise FeedParseError(
            f"{url} is broken ({parsed.get('bozo_exception')}) and none of its entries could be read; "
            "the blog's feed generator may have failed. relay will try again later."
        )
    feed_links = parsed.feed.get("links", [])
    return FeedDocument(
        posts=tuple(posts),
        title=site,
        site_url=absolute_http_url(parsed.feed.get("link", ""), base_url) or "",
        hub_url=_link_with_rel(feed_links, "hub", base_url),
        self_url=_link_with_rel(feed_links, "self", base_url),
        warnings=tuple(warnings),
    )


def _feedparser_headers(response_headers: dict[str, str], url: str) -> dict[str, str]:
    """``content-location`` is how feedparser learns the base URL for relative links.

    A file or a test string has no address: only xml:base and the feed's own link can help.
    Without a Content-Type, feedparser flags every body as suspicious; assume XML.
    """
    prepared = {**response_headers, "content-type": response_headers.get("content-type") or "application/xml"}
    prepared.pop("content-location", None)
    if is_absolute_http_url(url):
        prepared["content-location"] = url
    return prepared


def _problems_or_raise(parsed: Mapping[str, Any], url: str) -> list[str]:
    """A broken feed that still has entries is used (with a warning); one without is refused."""
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    serious = problem is not None and not isinstance(problem, _BENIGN_BOZO)
    if not parsed.get("entries") and (serious or not parsed.get("version")):
        reason = f" ({problem})" if problem else ""
        raise FeedParseError(
            f"{url} is not an RSS, Atom or JSON feed relay can read{reason}. "
            "Check that the address is the blog's feed (often /feed or /rss), not a web page."
        )
    return [f"the feed is not well-formed ({problem}); relay read what it could"] if serious else []


def _without_leading_whitespace(body: bytes) -> bytes:
    """Blank lines before ``<?xml`` make expat refuse the whole feed (TechCrunch, Hyatt)."""
    stripped = body.lstrip(b" \t\r\n")
    return stripped if stripped.startswith(b"<") else body


def _post_from_entry(entry: Mapping[str, Any], *, feed_url: str, site: str) -> Post | None:
    link = _entry_link(entry, feed_url)
    if link is None:
        return None
    guid = str(entry.get("id") or "").strip() or None
    content_html = _content_html(entry)
    summary_html = _html_value(entry.get("summary_detail")) or entry.get("summary", "")
    image_url, image_alt = _entry_image(entry, feed_url, content_html or summary_html)
    return Post(
        url=link,
        guid=guid,
        title=_plain_title(entry),
        summary_html=summary_html,
        content_html=content_html,
        author=plain_text(str(entry.get("author") or "")),
        site=site,
        categories=_categories(entry.get("tags") or []),
        published_at=_published_at(entry),
        image_url=image_url,
        image_alt=image_alt,
        wordpress_id=wordpress_post_id(guid, link),
    )


def _entry_link(entry: Mapping[str, Any], feed_url: str) -> str | None:
    """The post's page: FeedBurner's ``origLink`` first (``link`` is a feedproxy redirect there)."""
    candidates = [entry.get("feedburner_origlink", ""), entry.get("link", "")]
    candidates += [link.get("href", "") for link in entry.get("links", []) if link.get("rel") == "alternate"]
    for candidate in candidates:
        if resolved := absolute_http_url(candidate, feed_url):
            return resolved
    guid = str(entry.get("id") or "")
    return guid.strip() if is_absolute_http_url(guid) else None


def _plain_title(element: Mapping[str, Any]) -> str:
    """Titles typed ``html`` keep their markup and entities in feedparser (``Wth&#8230;``)."""
    title = str(element.get("title") or "")
    if (element.get("title_detail") or {}).get("type") in _HTML_TYPES:
        title = BeautifulSoup(without_unclosed_tags(title), "html.parser").get_text()
    return plain_text(title)


def _html_value(detail: Mapping[str, Any] | None) -> str:
    """The value as HTML: plain-text values are escaped so ``a < b`` is not read as a tag later."""
    if not detail:
        return ""
    value = str(detail.get("value") or "")
    return value if detail.get("type") in _HTML_TYPES else html.escape(value, quote=False)


def _content_html(entry: Mapping[str, Any]) -> str:
    """``content:encoded`` or Atom ``content``; an HTML one wins over a plain-text one."""
    contents = entry.get("content") or []
    preferred = [c for c in contents if c.get("type") in _HTML_TYPES] or contents
    return _html_value(preferred[0]) if preferred else ""


def _categories(tags: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Terms (labels when a term is empty), once each: ``Living``, ``living`` and ``LIVING`` are one."""
    by_folded_name: dict[str, str] = {}
    for tag in tags:
        name = plain_text(str(tag.get("term") or tag.get("label") or ""))
        if name:
            by_folded_name.setdefault(name.casefold(), name)
    return tuple(by_folded_name.values())


def _published_at(entry: Mapping[str, Any]) -> datetime | None:
    """feedparser's UTC ``struct_time``; else French or Portuguese dates it cannot read."""
    # dict.get: FeedParserDict.get("updated*") falls back to "published*" with a DeprecationWarning.
    raw = dict(entry)
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        if parsed := raw.get(key):
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    for key in ("published", "updated"):
        if (text := raw.get(key)) and (localized := _localized_rfc822_date(str(text))):
            return localized
    return None


def _localized_rfc822_date(text: str) -> datetime | None:
    """``Seg, 24 Set 2018 19:42:40 -0300`` or ``lun., 24 sept. 2018 ...``: RFC 822 in another language."""
    match = _LOCAL_DATE.match(text)
    if not match:
        return None
    day, month, year, rest = match.groups()
    english_month = _LOCAL_MONTHS.get(month.lower(), month)
    try:
        parsed = email.utils.parsedate_to_datetime(f"{day} {english_month} {year} {rest or '00:00:00'}")
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _entry_image(entry: Mapping[str, Any], feed_url: str, markup: str) -> tuple[str | None, str | None]:
    """The featured image, from the most to the least explicit place a feed puts one.

    media:content (widest image), media:thumbnail, image enclosures (``image/jpg`` too),
    ``itunes:image``, then the first real ``<img>`` in the content (Medium's only image).
    """
    media_content = entry.get("media_content") or []
    media = [m for m in media_content if _is_image(m.get("url", ""), m.get("type"), m.get("medium"))]
    thumbnails = list(entry.get("media_thumbnail") or [])
    for group in (media, thumbnails):
        for item in sorted(group, key=_width, reverse=True):
            if (found := _featured_image_url(item.get("url", ""), feed_url)) is not None:
                return found, None
    for enclosure in entry.get("enclosures") or []:
        href = enclosure.get("href", "")
        if _is_image(href, enclosure.get("type"), None) and (found := _featured_image_url(href, feed_url)):
            return found, None
    if (found := _featured_image_url((entry.get("image") or {}).get("href", ""), feed_url)) is not None:
        return found, None
    return _first_content_image(markup, feed_url)


def _first_content_image(markup: str, feed_url: str) -> tuple[str | None, str | None]:
    if "<img" not in markup:
        return None, None
    for img in BeautifulSoup(without_unclosed_tags(markup), "html.parser").find_all("img"):
        if str(img.get("width", "")) == "1" or str(img.get("height", "")) == "1":
            continue
        if (found := _featured_image_url(str(img.get("src", "")), feed_url)) is not None:
            return found, (str(img.get("alt", "")).strip() or None)
    return None, None


def _is_image(url: str, mime_type: str | None, medium: str | None) -> bool:
    if medium or mime_type:
        return medium == "image" or (mime_type or "").lower().startswith("image/")
    return urlsplit(url).path.lower().endswith(_IMAGE_EXTENSIONS)


def _width(item: Mapping[str, Any]) -> int:
    width = str(item.get("width") or "")
    return int(width) if width.isdigit() and len(width) < 7 else 0


def _featured_image_url(candidate: str, feed_url: str) -> str | None:
    resolved = absolute_http_url(candidate, feed_url)
    if resolved is None or any(marker in resolved for marker in _NOT_A_FEATURED_IMAGE):
        return None
    return resolved


def _link_with_rel(links: Iterable[Mapping[str, Any]], rel: str, feed_url: str) -> str | None:
    hrefs = (link.get("href", "") for link in links if link.get("rel") == rel)
    return next((url for href in hrefs if (url := absolute_http_url(href, feed_url))), None)
