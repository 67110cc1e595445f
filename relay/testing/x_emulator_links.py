"""Links as X shows them: every URL of a tweet wrapped in a 23-character t.co link.

X answers a posted tweet, and lists it later, with its links replaced by t.co links, and gives the
original in ``entities.urls[].expanded_url`` (``http://`` put in front of a bare name such as
``README.md``). Emulating this keeps a client honest: code that compares the text it sent with the
text X lists would pass against a naive fake and fail against X.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import twitter_text


@dataclass(frozen=True)
class UrlEntity:
    start: int
    end: int
    url: str
    expanded_url: str
    display_url: str


def wrap_links(text: str, tweet_id: str) -> tuple[str, tuple[UrlEntity, ...]]:
    """The text as X shows it: every URL twitter-text finds replaced by a t.co link."""
    pieces: list[str] = []
    entities: list[UrlEntity] = []
    cursor = 0
    for index, found in enumerate(twitter_text.extract_urls_with_indices(text)):
        start, end = found["indices"]
        original = found["url"]
        code = hashlib.sha256(f"{tweet_id}:{index}:{original}".encode()).hexdigest()[:10]
        short = f"https://t.co/{code}"
        pieces.append(text[cursor:start])
        new_start = sum(len(piece) for piece in pieces)
        pieces.append(short)
        expanded = original if "://" in original else f"http://{original}"
        display = expanded.split("://", 1)[1]
        display = display if len(display) <= 26 else display[:25] + "…"
        entities.append(UrlEntity(new_start, new_start + len(short), short, expanded, display))
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), tuple(entities)
