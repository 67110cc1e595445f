"""A post's text as X shows it: t.co links, an added link for attached media, escaped HTML, entities.

What X does to a posted text, and what this module reproduces:

- every URL twitter-text finds (so also a bare name such as ``README.md`` or ``site.fr``) is replaced
  by a 23-character ``https://t.co/<10 letters or digits>`` link; ``entities.urls[]`` gives, per
  link, ``start``/``end`` (in the text as shown), ``url`` (the t.co link), ``expanded_url`` (the URL
  as written, ``http://`` put in front of a bare name), ``display_url`` (no scheme, no ``www.``,
  cut at 26 characters with ``…``) and, when X could fetch it, ``status`` and ``unwound_url``
  (where the link ends after redirects); real answers, e.g. ``Time.fun`` listed as expanded
  ``http://Time.fun``, display ``Time.fun``, unwound ``https://time.fun/explore``;
- attached media add one more t.co link at the end of the text (``"testing 1000
  https://t.co/kIbedWfwG2"`` in the recorded exchange), listed once per media with its
  ``media_key``, expanded to ``https://x.com/<username>/status/<id>/photo/1`` and displayed as
  ``pic.x.com/<code>`` (``twitter.com`` in answers before the 2024 rename);
- ``&``, ``<`` and ``>`` come back as ``&amp;``, ``&lt;`` and ``&gt;``; entity offsets count the
  characters unescaped (X's long-standing behaviour, which client libraries correct for);
- ``entities.cashtags[]`` (``$TSLA``), found with twitter-text's rules.

Emulating this keeps a client honest: code that compares the text it sent with the text X lists
would pass against a naive fake and fail against X.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import twitter_text

TCO_LENGTH = 23
DISPLAY_URL_LIMIT = 26
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# twitter-text's cashtag rule: "$" after the start or a space, 1-6 ASCII letters, optionally "." or
# "_" and 1-2 letters, and then the end, a space or punctuation (checked against its conformance
# suite in tests/test_x_emulator.py).
_CASHTAG = re.compile(r"(?:^|(?<=\s))\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?=$|\s|[!-/:-@\[-`{-~])")

Resolver = Callable[[str], tuple[int, str] | None]
"""``expanded_url -> (HTTP status, unwound_url)``, or None where X could not fetch the link."""


@dataclass(frozen=True)
class UrlEntity:
    start: int
    end: int
    url: str
    expanded_url: str
    display_url: str
    status: int | None = None
    unwound_url: str | None = None
    media_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The item of ``entities.urls`` X answers with (absent fields left out, not null)."""
        item: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "url": self.url,
            "expanded_url": self.expanded_url,
            "display_url": self.display_url,
        }
        if self.media_key is not None:
            item["media_key"] = self.media_key
        if self.status is not None:
            item["status"] = self.status
        if self.unwound_url is not None:
            item["unwound_url"] = self.unwound_url
        return item


@dataclass(frozen=True)
class CashtagEntity:
    start: int
    end: int
    tag: str

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "tag": self.tag}


@dataclass(frozen=True)
class Rendered:
    """A text as X shows it, with its entities."""

    text: str
    urls: tuple[UrlEntity, ...] = ()
    cashtags: tuple[CashtagEntity, ...] = ()

    def entities(self) -> dict[str, Any]:
        """``entities`` as X answers it: only the kinds present (X leaves out empty lists)."""
        out: dict[str, Any] = {}
        if self.cashtags:
            out["cashtags"] = [c.as_json() for c in self.cashtags]
        if self.urls:
            out["urls"] = [u.as_json() for u in self.urls]
        return out


def tco_code(*parts: str) -> str:
    """Ten letters and digits, stable for the same inputs (X's t.co codes are base-62, length 10)."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")
    digits = []
    for _ in range(10):
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(digits)


def display_url(expanded: str) -> str:
    """What X shows for a link: no scheme, no ``www.``, a bare root without its slash, cut at 26."""
    shown = expanded.split("://", 1)[-1]
    shown = shown.removeprefix("www.")
    if shown.endswith("/") and shown.count("/") == 1:
        shown = shown[:-1]
    return shown if len(shown) <= DISPLAY_URL_LIMIT else shown[:DISPLAY_URL_LIMIT] + "…"


def escape_html(text: str) -> str:
    """``&``, ``<`` and ``>`` as X sends them in ``text``."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def extract_cashtags(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, tag)`` of every cashtag, by twitter-text's rules (``$TEST.T``, not ``$123``)."""
    return [(m.start(), m.end(), m.group(1)) for m in _CASHTAG.finditer(text)]


def render(
    text: str,
    tweet_id: str,
    *,
    media_keys: Sequence[str] = (),
    username: str = "",
    web_host: str = "x.com",
    resolve: Resolver | None = None,
) -> Rendered:
    """``text`` as X shows it once posted as ``tweet_id``: links wrapped, media link added, escaped."""
    pieces: list[str] = []
    urls: list[UrlEntity] = []
    cursor = 0
    for index, found in enumerate(twitter_text.extract_urls_with_indices(text)):
        start, end = found["indices"]
        original = str(found["url"])
        short = f"https://t.co/{tco_code(tweet_id, str(index), original)}"
        pieces.append(text[cursor:start])
        new_start = sum(len(piece) for piece in pieces)
        pieces.append(short)
        expanded = original if "://" in original else f"http://{original}"
        resolved = resolve(expanded) if resolve else None
        status, unwound = resolved if resolved else (None, None)
        shown_url = display_url(expanded)
        urls.append(UrlEntity(new_start, new_start + len(short), short, expanded, shown_url, status, unwound))
        cursor = end
    pieces.append(text[cursor:])
    shown = "".join(pieces)
    if media_keys:
        code = tco_code(tweet_id, "media")
        short = f"https://t.co/{code}"
        shown = f"{shown} {short}" if shown else short
        start = len(shown) - len(short)
        photo = f"https://{web_host}/{username}/status/{tweet_id}/photo/1"
        pic = f"pic.{web_host}/{code}"
        urls += [UrlEntity(start, len(shown), short, photo, pic, media_key=key) for key in media_keys]
    cashtags = tuple(CashtagEntity(s, e, tag) for s, e, tag in extract_cashtags(shown))
    return Rendered(escape_html(shown), tuple(urls), cashtags)
