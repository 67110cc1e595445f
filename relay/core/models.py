"""The values that flow through the pipeline.

Every door (feed, webhook, republish) produces the same :class:`Post`; from there on
nothing knows which door a post came through. The classes are frozen so a value can be
shared between the composer, the store and the publisher without defensive copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_TITLE_CHARS = 2_000
"""A title, author or site name longer than this is cut here: a tweet shows at most 280."""
MAX_NAME_CHARS = 200
"""Author and site names, categories and image descriptions."""
MAX_HTML_CHARS = 64 * 1024
"""Each HTML field (excerpt, summary, content): the summary needs only the first paragraphs."""
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class Post:
    """A blog post, normalised, as any door delivers it.

    ``url`` is absolute. The ``*_html`` fields hold the raw markup the source gave
    (they are cleaned by :mod:`relay.core.summary`, never before, so that the cleaning
    rules live in one place).
    """

    url: str
    title: str = ""
    guid: str | None = None
    excerpt_html: str = ""
    """A manual excerpt (WordPress ``excerpt``); preferred over everything for the summary."""
    summary_html: str = ""
    """The feed's description/summary."""
    content_html: str = ""
    """The full content, the last resort for a summary."""
    author: str = ""
    site: str = ""
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    image_url: str | None = None
    image_alt: str | None = None
    wordpress_id: int | None = None
    """The WordPress post ID when known (webhook, or a feed GUID of the form ``?p=ID``)."""
    seo_warnings: tuple[str, ...] = ()
    """What the post's page lacks for a good card on X (no twitter:card, no og:image)."""

    def __post_init__(self) -> None:
        """Every text field cut to its limit as the post is made, whichever door made it.

        Hostile or broken sources send megabyte titles; everything after this point
        (cleaning, composing, storing) then works on bounded text.
        """
        limits = {"title": MAX_TITLE_CHARS, "author": MAX_NAME_CHARS, "site": MAX_NAME_CHARS,
                  "excerpt_html": MAX_HTML_CHARS, "summary_html": MAX_HTML_CHARS, "content_html": MAX_HTML_CHARS}
        for name, limit in limits.items():
            value = getattr(self, name)
            if len(value) > limit:
                object.__setattr__(self, name, value[:limit])
        if self.image_alt is not None and len(self.image_alt) > MAX_NAME_CHARS:
            object.__setattr__(self, "image_alt", self.image_alt[:MAX_NAME_CHARS])
        if len(self.categories) > MAX_CATEGORIES or any(len(c) > MAX_NAME_CHARS for c in self.categories):
            kept = tuple(c[:MAX_NAME_CHARS] for c in self.categories[:MAX_CATEGORIES])
            object.__setattr__(self, "categories", kept)


@dataclass(frozen=True)
class Tweet:
    """A composed tweet, ready to post: X will accept its length."""

    text: str
    link: str
    """The link exactly as it stands in ``text`` (UTM-tagged, or a tracked short link)."""
    weighted_length: int
    """The length as the network counts it (X's weighted count, Mastodon's characters, Bluesky's graphemes)."""
    extra: dict[str, Any] | None = field(default=None, hash=False)
    """What a network needs beside the text, composed with it (Bluesky: link and tag facets, the link card)."""


@dataclass(frozen=True)
class FeedDocument:
    """What parsing one fetched feed body gives: its entries as posts, and feed facts."""

    posts: tuple[Post, ...]
    title: str = ""
    site_url: str = ""
    hub_url: str | None = None
    self_url: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    """Non-fatal problems (a bozo feed that still had entries, say)."""
