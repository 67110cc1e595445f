"""Where a feed's WebSub hub is, and which topic URL to subscribe to.

The spec (W3C WebSub §4) says the publisher announces its hub and its own canonical URL
("self") in HTTP ``Link`` headers, or inside the document (``<atom:link rel="hub">``);
headers win because they are what the spec requires and a document may be a stale copy.
When a feed names a hub but no self link, relay uses the feed's own address as the topic,
which is what hubs fed by WordPress plugins expect.

Pure: headers and a parsed :class:`FeedDocument` in, URLs out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from relay.core.models import FeedDocument


@dataclass(frozen=True)
class Discovered:
    """What the feed says about push: ``hub_url`` is None when it names no usable hub."""

    hub_url: str | None
    topic_url: str


def discover(headers: Mapping[str, str], document: FeedDocument, *, feed_url: str) -> Discovered:
    """The hub and topic for a feed fetched (or pushed) from ``feed_url``.

    ``headers`` may use any case for names; several ``Link`` headers may arrive joined with
    commas (as httpx and most servers merge them), which the parser handles.
    """
    link_value = next((value for name, value in headers.items() if name.lower() == "link"), "")
    links = list(parse_link_header(link_value, base_url=feed_url))
    hub = _first(links, "hub") or _http_only(document.hub_url)
    topic = _first(links, "self") or _http_only(document.self_url) or feed_url
    return Discovered(hub_url=hub, topic_url=topic)


def parse_link_header(value: str, *, base_url: str) -> Iterator[tuple[str, frozenset[str]]]:
    """``<url>; rel="a b", <url2>; rel=c`` -> ``(absolute url, {"a", "b"})`` pairs (RFC 8288).

    Tolerant on purpose: a malformed link is skipped, never an error, because a broken
    header must not stop the feed from being polled.
    """
    position = 0
    while True:
        start = value.find("<", position)
        if start < 0:
            return
        end = value.find(">", start)
        if end < 0:
            return
        target = value[start + 1 : end].strip()
        params, position = _params_until_next_link(value, end + 1)
        rels = frozenset(token.lower() for token in params.get("rel", "").split())
        absolute = urljoin(base_url, target) if target else ""
        if rels and _http_only(absolute):
            yield absolute, rels


def _params_until_next_link(value: str, position: int) -> tuple[dict[str, str], int]:
    """Read ``; name=value`` pairs (values maybe quoted) up to the comma that starts the next link."""
    params: dict[str, str] = {}
    length = len(value)
    while position < length:
        char = value[position]
        if char == ",":
            return params, position + 1
        if char != ";":
            position += 1
            continue
        position += 1
        equals = value.find("=", position)
        boundary = min((i for i in (value.find(";", position), value.find(",", position)) if i >= 0), default=length)
        if equals < 0 or equals > boundary:
            position = boundary  # a parameter without a value (``; crossorigin``)
            continue
        name = value[position:equals].strip().lower()
        position = equals + 1
        while position < length and value[position] == " ":
            position += 1
        if position < length and value[position] == '"':
            close = value.find('"', position + 1)
            close = length if close < 0 else close
            text, position = value[position + 1 : close], close + 1
        else:
            stop = min((i for i in (value.find(";", position), value.find(",", position)) if i >= 0), default=length)
            text, position = value[position:stop].strip(), stop
        params.setdefault(name, text)  # RFC 8288: the first occurrence of a parameter counts
    return params, position


def _first(links: list[tuple[str, frozenset[str]]], rel: str) -> str | None:
    return next((url for url, rels in links if rel in rels), None)


def _http_only(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.hostname else None
