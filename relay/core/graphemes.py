"""How many characters a reader sees in a text: the one count Mastodon and Bluesky both use.

Both networks count *extended grapheme clusters* (UAX #29): an accented letter, a flag, a family
emoji of seven code points, a Hangul syllable written as three jamo each count 1. Mastodon counts
with Ruby's ``String#each_grapheme_cluster``; Bluesky's lexicon with a JavaScript segmenter.
Python has no segmentation of its own, so this uses the ``regex`` module's ``\\X``.

One difference is kept on purpose. Unicode 15.1 added rule GB9c: an Indic consonant, a virama
and the next consonant (``क्ष``) make one cluster, where earlier versions count two. ``regex``
follows 15.1 and later; Ruby 3.x, which the Mastodon instances of today run, follows 15.0 (Ruby
got 15.1 only in 4.0). Counting the 15.1 way would let through a Hindi status that such an
instance refuses, so each join GB9c makes is counted as the break it used to be: the count is
never below either network's, at worst a few characters above it for Indic scripts (a post cut
slightly early, never refused).

Importing ``regex`` costs memory (a few MB), so only Mastodon's and Bluesky's code import this
module, and only when such an account is used (see ``tests/test_bluesky_publisher.py``).
"""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")
_CONJUNCT_LINKER = regex.compile(r"\p{InCB=Linker}")
_CONJUNCT_JOIN = regex.compile(
    r"(?<=\p{InCB=Consonant}[\p{InCB=Extend}\p{InCB=Linker}]*\p{InCB=Linker}[\p{InCB=Extend}\p{InCB=Linker}]*)"
    r"\p{InCB=Consonant}"
)
"""A consonant that GB9c (Unicode 15.1) joins to the cluster before it, where Unicode 15.0 breaks."""


def grapheme_count(text: str) -> int:
    """The characters a reader sees in ``text``, as Mastodon and Bluesky count them (never fewer)."""
    count = len(_GRAPHEME.findall(text))
    if _CONJUNCT_LINKER.search(text):  # a virama: Indic text, where Unicode 15.0 and 15.1 differ
        count += len(_CONJUNCT_JOIN.findall(text))
    return count
