"""A post as a Mastodon status: Mastodon's own length rule, and the composer cut to an instance's limit.

Mastodon does not count like X. Its ``StatusLengthValidator`` counts *grapheme clusters* (an accented
letter, a CJK ideograph, an emoji family each count 1; nothing weighs 2), of the content warning plus
the text, after two rewrites: every ``http://`` or ``https://`` URL counts as
``characters_reserved_per_url`` (23) whatever its length, and a remote mention ``@user@domain``
counts only its ``@user``. A bare ``example.com`` is *not* a URL there (it is extracted with
``extract_url_without_protocol: false``), so it counts its own length. The limit is the instance's
``configuration.statuses.max_characters`` from ``GET /api/v2/instance``: 500 by default, more on
many instances.

Graphemes are counted by :mod:`relay.core.graphemes`, the one count Mastodon and Bluesky share
(extended grapheme clusters, ``regex``'s ``\\X``, the definition of Ruby's ``each_grapheme_cluster``;
Indic conjuncts are counted the way Ruby 3.x does, see there). That module is imported at the
first count, not with this one, so a relay without a Mastodon or Bluesky account never loads ``regex``.

The composer is :mod:`relay.core.compose`'s, with Mastodon's measure: the same clean title and
summary, the same hashtags and UTM-tagged link (never cut), the same cuts at a word that never end
on a function word. Only what "fits" means changes, so the order in which parts give way is the
one documented there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from relay.core.compose import (
    DEFAULT_OPTIONS,
    ComposeOptions,
    _Draft,
    _Layout,
    _layout,
    _prepared,
    _render,
    shrink_to_fit,
)
from relay.core.models import Post
from relay.core.twitter_text_lib import extract_urls_with_indices

DEFAULT_MAX_CHARACTERS = 500
"""Mastodon's default ``max_characters`` (``MAX_CHARS`` of its validator)."""
DEFAULT_URL_LENGTH = 23
"""What any ``http(s)://`` URL counts for (``characters_reserved_per_url``)."""

_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w.-]+\w)?", re.IGNORECASE)
"""Mastodon's ``Account::MENTION_RE``: ``@user`` or ``@user@domain``; group 1 is what counts."""
_WITH_PROTOCOL = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class MastodonLimits:
    """What one instance allows in a status, as ``GET /api/v2/instance`` says."""

    max_characters: int = DEFAULT_MAX_CHARACTERS
    characters_reserved_per_url: int = DEFAULT_URL_LENGTH
    max_media_attachments: int = 4
    description_limit: int = 1500
    """Longest image description (alt text) the instance keeps."""
    image_size_limit: int = 16 * 1024 * 1024

    @classmethod
    def from_instance(cls, instance: Mapping[str, Any]) -> MastodonLimits:
        """The limits in an instance document; a missing or odd value keeps Mastodon's default."""
        configuration = instance.get("configuration")
        configuration = configuration if isinstance(configuration, Mapping) else {}
        statuses = configuration.get("statuses")
        statuses = statuses if isinstance(statuses, Mapping) else {}
        media = configuration.get("media_attachments")
        media = media if isinstance(media, Mapping) else {}
        default = cls()

        def number(section: Mapping[str, Any], key: str, fallback: int) -> int:
            value = section.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else fallback

        return cls(
            max_characters=number(statuses, "max_characters", default.max_characters),
            characters_reserved_per_url=number(statuses, "characters_reserved_per_url",
                                               default.characters_reserved_per_url),
            max_media_attachments=number(statuses, "max_media_attachments", default.max_media_attachments),
            description_limit=number(media, "description_limit", default.description_limit),
            image_size_limit=number(media, "image_size_limit", default.image_size_limit),
        )


DEFAULT_LIMITS = MastodonLimits()


# -- the count -------------------------------------------------------------------------------------


def grapheme_count(text: str) -> int:
    """How many characters a reader sees in ``text``, as Mastodon counts them (:mod:`relay.core.graphemes`).

    Imported here, at the first count, so that ``regex`` is loaded only where a Mastodon account is used.
    """
    from relay.core.graphemes import grapheme_count as count

    return count(text)


def countable_text(text: str, url_length: int = DEFAULT_URL_LENGTH) -> str:
    """``text`` as Mastodon measures it: each URL an ``x`` times ``url_length``, each mention its ``@user``."""
    entities: list[tuple[int, int, str]] = []
    for found in extract_urls_with_indices(text):
        if _WITH_PROTOCOL.match(found["url"]):
            start, end = found["indices"]
            entities.append((start, end, "x" * url_length))
    for match in _MENTION.finditer(text):
        entities.append((match.start(), match.end(), "@" + match.group(1)))
    entities.sort()
    parts: list[str] = []
    position = 0
    for start, end, replacement in entities:
        if start < position:  # overlaps an entity already rewritten: the earlier one wins
            continue
        parts += [text[position:start], replacement]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def mastodon_length(text: str, *, spoiler_text: str = "", url_length: int = DEFAULT_URL_LENGTH) -> int:
    """The length Mastodon gives a status (content warning plus text): at most ``max_characters`` posts."""
    return grapheme_count(spoiler_text + countable_text(text, url_length))


def is_valid_status(text: str, limits: MastodonLimits = DEFAULT_LIMITS) -> bool:
    """Whether an instance with ``limits`` accepts ``text`` as a status: not blank, not too long."""
    return bool(text.strip()) and mastodon_length(text, url_length=limits.characters_reserved_per_url) <= (
        limits.max_characters
    )


# -- the composer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MastodonStatus:
    """A composed status, ready to post: the instance will accept its length."""

    text: str
    link: str
    """The link exactly as it stands in ``text`` (UTM-tagged, or a tracked short link)."""
    length: int
    """Mastodon's count of ``text``."""
    max_characters: int


def _fit(layout: _Layout, draft: _Draft, limits: MastodonLimits, language: str) -> _Draft:
    """``draft`` with parts shrunk or dropped, in :mod:`relay.core.compose`'s order, until the instance takes it."""

    def fits(candidate: _Draft) -> bool:
        return is_valid_status(_render(layout, candidate.values()), limits)

    return shrink_to_fit(draft, fits, language)


def compose_status(
    post: Post,
    options: ComposeOptions = DEFAULT_OPTIONS,
    *,
    today: date,
    limits: MastodonLimits = DEFAULT_LIMITS,
) -> MastodonStatus:
    """The status for ``post`` on an instance with ``limits``: holding the whole link, cut as little as possible.

    ``options`` are the feed's (template, hashtags, UTM tags), as for X: the same post reads the same
    on both networks, only longer where the instance allows it.
    """
    layout = _layout(options.template)
    draft, language = _prepared(post, layout, options, today)
    text = _render(layout, _fit(layout, draft, limits, language).values())
    if not is_valid_status(text, limits):
        raise ValueError(f"No status of {limits.max_characters} characters can carry the link {draft.link!r}")
    return MastodonStatus(text=text, link=draft.link,
                          length=mastodon_length(text, url_length=limits.characters_reserved_per_url),
                          max_characters=limits.max_characters)
