"""One composer per network: the same clean parts of a post, measured and shaped by each network's rules.

X as always (:func:`relay.core.compose.compose_tweet`, weighted length, 280); Mastodon by its
instance's limit, every link counting 23 (:mod:`relay.core.mastodon_text`); Bluesky in 300
graphemes, with its links and tags as facets and a link card (:mod:`relay.core.bluesky_text`).
Each network's posts carry their own ``utm_source``, so the blog's analytics tell the visits apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from relay.core.compose import ComposeOptions, compose_tweet, fit_message, tagged_link
from relay.core.language import guess_language
from relay.core.length import MAX_WEIGHTED_LENGTH, weighted_length
from relay.core.mastodon_text import DEFAULT_LIMITS, MastodonLimits, compose_status, mastodon_length
from relay.core.models import Post, Tweet

Composer = Callable[[Post, ComposeOptions, date], Tweet]
"""``(post, options, today)`` -> the text one network will accept."""

UTM_SOURCES = {"x": "twitter", "mastodon": "mastodon", "bluesky": "bluesky"}
NETWORK_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}


@dataclass(frozen=True)
class Target:
    """An account a post goes out on, and how its text is made."""

    account: str
    network: str
    compose: Composer

    def options(self, options: ComposeOptions, post: Post | None = None, today: date | None = None) -> ComposeOptions:
        """The feed's options, with this network's ``utm_source``; given the post, an author's message
        fitted to this network's limit (X's fit is already the template)."""
        shaped = replace(options, utm_source=UTM_SOURCES[self.network])
        if not shaped.message or self.network == "x" or post is None or today is None:
            return shaped
        measure = measure_for(self.network, self.compose)
        link = measure.shown_link(tagged_link(post, shaped, today=today))
        template, _ = fit_message(shaped.message, link, lambda text: measure.count(text) <= measure.limit)
        return replace(shaped, template=template)


def compose_for_x(post: Post, options: ComposeOptions, today: date) -> Tweet:
    return compose_tweet(post, options, today=today)


class MastodonComposer:
    """Statuses for one Mastodon account, at its instance's limits (500 characters until it has said)."""

    def __init__(self, limits: MastodonLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        """Replaced by what ``GET /api/v2/instance`` says, once asked (see :func:`relay.wiring`)."""

    def __call__(self, post: Post, options: ComposeOptions, today: date) -> Tweet:
        status = compose_status(post, options, today=today, limits=self.limits)
        return Tweet(status.text, status.link, status.length)


def compose_for_bluesky(post: Post, options: ComposeOptions, today: date) -> Tweet:
    """The Bluesky text, with what the publisher needs beside it: facets (UTF-8 byte offsets) and the card."""
    from relay.core.bluesky_text import compose_bluesky_post  # loads `regex`, only where Bluesky is used

    composed = compose_bluesky_post(post, options, today=today)
    extra: dict[str, Any] = {
        "text": composed.text,
        "facets": [[f.byte_start, f.byte_end, f.kind, f.value] for f in composed.facets],
        "card": {"uri": composed.card.uri, "title": composed.card.title, "description": composed.card.description},
    }
    language = guess_language(f"{post.title} {composed.card.description}")
    if language:
        extra["langs"] = [language]
    return Tweet(composed.text, composed.link, composed.graphemes, extra=extra)


@dataclass(frozen=True)
class Measure:
    """How a network counts a text, and how much it takes."""

    count: Callable[[str], int]
    limit: int
    shown_link: Callable[[str], str] = str
    """How a post's link stands in its text (Bluesky shows it short; its facet holds it whole)."""


def measure_for(network: str, compose: Composer | None = None) -> Measure:
    """The count and limit of ``network`` (a Mastodon account's from its composer: its instance's limits)."""
    if network == "mastodon":
        limits = compose.limits if isinstance(compose, MastodonComposer) else DEFAULT_LIMITS
        reserved = limits.characters_reserved_per_url
        return Measure(lambda text: mastodon_length(text, url_length=reserved), limits.max_characters)
    if network == "bluesky":
        from relay.core.bluesky_text import MAX_BYTES, MAX_GRAPHEMES, short_link
        from relay.core.graphemes import grapheme_count

        def graphemes(text: str) -> int:
            # Over 3,000 bytes the PDS refuses it whatever the graphemes: count it as too long.
            return grapheme_count(text) if len(text.encode("utf-8")) <= MAX_BYTES else MAX_GRAPHEMES + 1

        return Measure(graphemes, MAX_GRAPHEMES, short_link)
    return Measure(weighted_length, MAX_WEIGHTED_LENGTH)


def composer_for(network: str) -> Composer:
    """The composer of a network (Mastodon's at its default limits; wiring gives each account its own)."""
    if network == "mastodon":
        return MastodonComposer()
    if network == "bluesky":
        return compose_for_bluesky
    return compose_for_x
