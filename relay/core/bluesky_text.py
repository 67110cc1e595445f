"""A post and a template turned into a Bluesky post: text, facets and link card.

Bluesky is not X. Its limit is 300 *graphemes* (what a reader sees as one character: a family
emoji of seven code points, a flag, an ``e`` with a combining accent each count 1), and the text
may not exceed 3,000 UTF-8 bytes either (``app.bsky.feed.post``: ``maxGraphemes`` 300,
``maxLength`` 3000). Links and hashtags are not recognised in the text by the server: they are
*facets*, ranges of the text's UTF-8 bytes (``byteStart`` inclusive, ``byteEnd`` exclusive) with a
``app.bsky.richtext.facet#link`` or ``#tag`` feature. So the link can be *shown* short (the way
Bluesky's own app shows links: host and the start of the path) while its facet, and the
``app.bsky.embed.external`` card, carry the whole tagged URL.

Graphemes are counted by :mod:`relay.core.graphemes`, the one count Mastodon and Bluesky share
(the ``regex`` module's ``\\X``, extended grapheme clusters; Python's ``re`` and ``unicodedata``
have no grapheme segmentation).

The text is composed with :mod:`relay.core.compose`'s parts: the same cleaned title, summary and
hashtags, the same template, the same cutting (:func:`relay.core.compose.shorten`), the same order
of what gives way (summary, hashtags, site, author, title); only the measure differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

import regex

from relay.core.compose import (
    DEFAULT_OPTIONS,
    ComposeOptions,
    _Draft,
    _Layout,
    _layout,
    _prepared,
    _render,
    shorten,
    shrink_to_fit,
)
from relay.core.graphemes import grapheme_count
from relay.core.models import Post

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_CARD_TITLE_GRAPHEMES = 300
MAX_CARD_DESCRIPTION_GRAPHEMES = 300
"""The lexicon sets no limit on a card's title and description; the app shows two or three lines."""
SHORT_PATH_CHARS = 15
"""A link's path longer than this is shown cut to 13 characters and ``...``, as Bluesky's app shows links."""

LINK_FEATURE = "app.bsky.richtext.facet#link"
TAG_FEATURE = "app.bsky.richtext.facet#tag"
EXTERNAL_EMBED = "app.bsky.embed.external"

_LINK_MARK = "\ue000"
_TAGS_MARK = "\ue001"
_MARKS = re.compile(f"([{_LINK_MARK}{_TAGS_MARK}])")


def fits_bluesky(text: str) -> bool:
    """Whether ``text`` is within both limits of a post's text (300 graphemes, 3,000 bytes)."""
    return len(text.encode("utf-8")) <= MAX_BYTES and grapheme_count(text) <= MAX_GRAPHEMES


def short_link(url: str) -> str:
    """``url`` as shown in the text: host and path, the path cut after 13 characters.

    ``https://example.com/2024/05/economies-energie?utm_source=bluesky`` shows as
    ``example.com/2024/05/econ...``; the facet keeps the whole address. The query (relay's UTM
    tags) and fragment are not shown: they say nothing to a reader. The host is always shown
    whole, so Bluesky's app, which warns when a link's text names another host than its URI,
    has nothing to warn about.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    path = "" if parts.path == "/" else parts.path
    if len(path) > SHORT_PATH_CHARS:
        path = path[: SHORT_PATH_CHARS - 2] + "..."
    return parts.netloc + path


@dataclass(frozen=True)
class Facet:
    """One link or tag over ``text.encode()[byte_start:byte_end]``."""

    byte_start: int
    byte_end: int
    kind: Literal["link", "tag"]
    value: str
    """The full URI of a link; a tag without its ``#``."""

    def to_record(self) -> dict[str, object]:
        feature: dict[str, object] = (
            {"$type": LINK_FEATURE, "uri": self.value} if self.kind == "link" else {"$type": TAG_FEATURE,
                                                                                    "tag": self.value}
        )
        return {"index": {"byteStart": self.byte_start, "byteEnd": self.byte_end}, "features": [feature]}


@dataclass(frozen=True)
class ExternalCard:
    """The link card (``app.bsky.embed.external``); its thumbnail blob is uploaded at publishing."""

    uri: str
    title: str
    description: str

    def to_record(self, thumb: Mapping[str, object] | None = None) -> dict[str, object]:
        external: dict[str, object] = {"uri": self.uri, "title": self.title, "description": self.description}
        if thumb is not None:
            external["thumb"] = dict(thumb)
        return {"$type": EXTERNAL_EMBED, "external": external}


@dataclass(frozen=True)
class BlueskyPost:
    """A composed Bluesky post: its text fits, its facets point at the right bytes."""

    text: str
    facets: tuple[Facet, ...]
    link: str
    """The full (tagged) link, as the link facet and the card carry it."""
    card: ExternalCard
    graphemes: int

    def facets_record(self) -> list[dict[str, object]]:
        return [facet.to_record() for facet in self.facets]


def _fit(layout: _Layout, draft: _Draft, display: str, language: str) -> _Draft:
    """``draft`` with parts shrunk or dropped in :mod:`relay.core.compose`'s order, measured for Bluesky."""

    def fits(candidate: _Draft) -> bool:
        return fits_bluesky(_render(layout, {**candidate.values(), "link": display}))

    return shrink_to_fit(draft, fits, language)


def _with_facets(layout: _Layout, draft: _Draft, display: str) -> tuple[str, tuple[Facet, ...]]:
    """The text and its facets: rendered once with markers where the link and tags go, so each
    facet's bytes are known exactly, wherever the template puts them and whatever the title says."""
    marked = _render(layout, {**draft.values(), "link": _LINK_MARK,
                              "hashtags": _TAGS_MARK if draft.hashtags else ""})
    parts: list[str] = []
    facets: list[Facet] = []
    size = 0

    def add(piece: str, facet: tuple[Literal["link", "tag"], str] | None = None) -> None:
        nonlocal size
        length = len(piece.encode("utf-8"))
        if facet is not None:
            facets.append(Facet(size, size + length, facet[0], facet[1]))
        parts.append(piece)
        size += length

    for piece in _MARKS.split(marked):
        if piece == _LINK_MARK:
            add(display, ("link", draft.link))
        elif piece == _TAGS_MARK:
            for index, tag in enumerate(draft.hashtags):
                if index:
                    add(" ")
                add(tag, ("tag", tag.lstrip("#")))
        elif piece:
            add(piece)
    return "".join(parts), tuple(facets)


def _unmarked(text: str) -> str:
    return text.replace(_LINK_MARK, "").replace(_TAGS_MARK, "")


def _card_text(text: str, limit: int) -> str:
    if grapheme_count(text) <= limit:
        return text
    return shorten(text, lambda candidate: grapheme_count(candidate) <= limit, hard_cut=True)


def compose_bluesky_post(post: Post, options: ComposeOptions = DEFAULT_OPTIONS, *, today: date) -> BlueskyPost:
    """The Bluesky post for ``post``: within 300 graphemes, the link shown short and faceted whole,
    hashtags faceted, and the link card with the post's full title and summary."""
    layout = _layout(options.template)
    draft, language = _prepared(post, layout, options, today)
    draft = replace(draft, title=_unmarked(draft.title), summary=_unmarked(draft.summary),
                    author=_unmarked(draft.author), site=_unmarked(draft.site))
    display = short_link(draft.link)
    fitted = _fit(layout, draft, display, language)
    text, facets = _with_facets(layout, fitted, display)
    if not fits_bluesky(text):
        raise ValueError(f"No Bluesky post can carry the link {draft.link!r} with this template")
    card = ExternalCard(
        uri=draft.link,
        title=_card_text(draft.title, MAX_CARD_TITLE_GRAPHEMES),
        description=_card_text(draft.summary, MAX_CARD_DESCRIPTION_GRAPHEMES),
    )
    return BlueskyPost(text=text, facets=facets, link=draft.link, card=card, graphemes=grapheme_count(text))


_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"]+")
_TAG_CHARS = r"[\p{L}\p{M}\p{N}_\u00b7\u200c\u200d]"
_TAG_IN_TEXT = regex.compile(rf"(?<![\p{{L}}\p{{N}}_&/])#({_TAG_CHARS}*\p{{L}}{_TAG_CHARS}*)")
_TRAILING = ".,;:!?)]}»”’'\""


def detect_facets(text: str, *, tag_filter: Callable[[str], bool] | None = None) -> tuple[Facet, ...]:
    """Facets for the full ``http(s)://`` links and ``#tags`` written in plain ``text``.

    For text composed elsewhere (a publisher given only text): a link's facet covers the address
    as written, trailing punctuation left out; a tag needs a letter (``#2024`` is no tag).
    """
    found: list[tuple[int, int, Literal["link", "tag"], str]] = []
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group().rstrip(_TRAILING)
        found.append((match.start(), match.start() + len(url), "link", url))
    taken = [(start, end) for start, end, _, _ in found]
    for tag in _TAG_IN_TEXT.finditer(text):
        start, end = tag.span()
        if any(a <= start < b for a, b in taken) or (tag_filter is not None and not tag_filter(tag.group(1))):
            continue
        found.append((start, end, "tag", tag.group(1)))
    facets = []
    for start, end, kind, value in sorted(found):
        byte_start = len(text[:start].encode("utf-8"))
        facets.append(Facet(byte_start, byte_start + len(text[start:end].encode("utf-8")), kind, value))
    return tuple(facets)
