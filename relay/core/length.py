"""Tweet length exactly as X counts it (twitter-text v3).

X does not count characters: it NFC-normalises the text, gives every code point a
weight (1 for most Latin, punctuation and general-punctuation ranges, 2 for the rest,
so ``…`` and U+202F weigh 2 while ``«`` ``»`` ``’`` weigh 1), counts every URL as 23
whatever its real length, and an emoji sequence (a family, a flag, a skin tone) as a
single 2. Guessing any of this wrong means a post refused by X, or one cut short for
nothing, and every post costs money.

URL and emoji recognition come from ``twitter-text-parser`` (the Python port that
passes the official conformance suite); the weights come from its v3 configuration.
Only the counting loop is ours, for speed: the library runs its whole emoji regex (an
alternation of every sequence in Unicode's list) across the text on every call, which
costs over a millisecond for a tweet, and the composer measures a dozen candidate texts
per post. Here that regex is only tried where an emoji can start, which gives the same
matches (see :func:`emoji_spans`), and text is weighed word by word with a cache (see
:func:`_weighted_length`). ``tests/test_length_conformance.py`` checks the result
against the suite and, on random text, against the library's own ``parse_tweet``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from relay.core.twitter_text_lib import config as _twitter_text_config
from relay.core.twitter_text_lib import emoji as _EMOJI_SEQUENCE
from relay.core.twitter_text_lib import emoji_list as _emoji_list
from relay.core.twitter_text_lib import extract_urls_with_indices
from relay.core.twitter_text_lib import invalid_chars as _INVALID_CHARS
from relay.core.twitter_text_lib import single_codepoint_emoji_ranges as _single_emoji_ranges

_V3 = _twitter_text_config["version3"]
MAX_WEIGHTED_LENGTH: int = _V3["max_weighted_tweet_length"]
"""280: the most X accepts in one post."""
URL_WEIGHT: int = _V3["transformed_url_length"]
"""23: what any URL counts for, however long, because X wraps it in a t.co link."""

_SCALE: int = _V3["scale"]
_LIGHT: int = _V3["ranges"][0]["weight"]
_HEAVY: int = _V3["default_weight"]
if any(weight_range["weight"] != _LIGHT for weight_range in _V3["ranges"]):  # pragma: no cover
    raise ImportError("twitter-text config has ranges of several weights; relay.core.length needs updating")


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges)


_LIGHT_RANGES = [(r["start"], r["end"]) for r in _V3["ranges"]]
_HEAVY_CHAR = re.compile(f"[^{_char_class(_LIGHT_RANGES)}]")
"""Any code point outside the light ranges: it weighs ``_HEAVY`` instead of ``_LIGHT``."""


def _as_ranges(code_points: set[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code_point in sorted(code_points):
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1] = (ranges[-1][0], code_point)
        else:
            ranges.append((code_point, code_point))
    return ranges


_PUNCTUATION_END = 0x2070


def _emoji_starts() -> tuple[frozenset[int], re.Pattern[str]]:
    """The code points an emoji sequence of the library's regex can begin with, and a
    quick pattern that finds every position worth checking against them.

    Digits, ``#`` and ``*`` begin keycap sequences only when U+FE0F or U+20E3 follows,
    so only then are they worth a try: ordinary text is full of digits, and each try
    runs the whole emoji regex. The pattern also skips everything below the first
    non-ASCII emoji (U+00A9), which a character class of a thousand ranges would
    check one range at a time.
    """
    firsts = {code for low, high in _single_emoji_ranges for code in range(low, high + 1)}
    seconds_after_ascii: set[int] = set()
    for entry in _emoji_list:
        codes = [int(code, 16) for code in entry.codepoint.split()]
        firsts.add(codes[0])
        if len(codes) > 1 and codes[0] < 0x80:
            seconds_after_ascii.add(codes[1])
    ascii_firsts = {code for code in firsts if code < 0x80}
    latin_firsts = {code for code in firsts if 0x80 <= code < _PUNCTUATION_END}
    lowest_above = min(code for code in firsts if code >= _PUNCTUATION_END)
    pattern = f"[{_char_class(_as_ranges(latin_firsts))}{re.escape(chr(lowest_above))}-\\U0010ffff]"
    if ascii_firsts:
        ascii_class = _char_class(_as_ranges(ascii_firsts))
        pattern += f"|[{ascii_class}](?=[{_char_class(_as_ranges(seconds_after_ascii))}])"
    return frozenset(firsts), re.compile(pattern)


_EMOJI_FIRSTS, _MAYBE_EMOJI_START = _emoji_starts()

_LINE_ENDINGS = re.compile(r"\r\n|\r|\n")


class UrlSpan(NamedTuple):
    """A URL as twitter-text finds it: ``text[start:end] == url`` (code point indices)."""

    url: str
    start: int
    end: int


def find_urls(text: str) -> list[UrlSpan]:
    """Every URL X would link (and count as 23), including bare names like ``README.md``.

    Exact, and slow on long words (see :data:`LONG_WORD`): meant for texts of tweet size.
    """
    return [
        UrlSpan(found["url"], found["indices"][0], found["indices"][1]) for found in extract_urls_with_indices(text)
    ]


def uncuttable_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every URL in ``text``, and of every long word that is not a plain link.

    The composer never cuts inside these. The search runs word by word (a URL holds no
    space), like the weight, so it stays linear; a long word that is not a plain link
    (see :data:`LONG_WORD`) is kept whole rather than searched.
    """
    spans: list[tuple[int, int]] = []
    for word in re.finditer(r"[^ \t\n]+", text):
        start = word.start()
        if _long_word_bound(word.group()) is not None:
            spans.append((start, word.end()))
            continue
        prefix = " " if start else ""  # what precedes a word matters to the URL rule, as in _weighted_length
        offset = start - len(prefix)
        for found in extract_urls_with_indices(prefix + word.group()):
            spans.append((found["indices"][0] + offset, found["indices"][1] + offset))
    return spans


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each emoji sequence: X counts each as one, cuts must not split one."""
    # Same matches as the library's ``emoji.finditer(text)``: finditer tries the
    # pattern at each position left to right and can only succeed where the first
    # code point of some alternative stands; we try exactly those positions.
    spans: list[tuple[int, int]] = []
    resume_at = 0
    for candidate in _MAYBE_EMOJI_START.finditer(text):
        position = candidate.start()
        if position < resume_at or ord(text[position]) not in _EMOJI_FIRSTS:
            continue
        match = _EMOJI_SEQUENCE.match(text, position)
        if match:
            spans.append((position, match.end()))
            resume_at = match.end()
    return spans


def _plain_weight(segment: str) -> int:
    heavy = len(_HEAVY_CHAR.findall(segment))
    return (len(segment) - heavy) * _LIGHT + heavy * _HEAVY


_WORD_SEPARATORS = re.compile(r"[ \t\n]+")

LONG_WORD = 64
"""Words longer than this, with a ``.``, may be weighed by a bound instead of twitter-text's URL regex.

That regex backtracks: on a word with a dot its time grows with the square of the word's
length (a 2,000-character word of ``é.`` takes 5 s, a 40,000-character title minutes,
all of it holding the interpreter). So the exact count runs only where it is cheap:
words up to this length, words up to :data:`MEDIUM_WORD` with few dots, and plain
links (:data:`_PLAIN_LINK`), which is every real word of this length."""
MEDIUM_WORD = 320
_FEW_DOTS = 8
_PLAIN_LINK = re.compile(
    r" ?(?:https?://)?(?:[A-Za-z0-9]+(?:-{1,3}[A-Za-z0-9]+){0,8}\.){1,8}[A-Za-z0-9]+(?:-{1,3}[A-Za-z0-9]+){0,8}"
    r"(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{0,8000})?"
)
"""A link of ASCII characters with a plausible host: twitter-text reads these in linear time."""


def _long_word_bound(word: str) -> int | None:
    """An upper bound of a long word's weight (1/scale units), or None when the exact count is cheap.

    Every URL twitter-text finds holds its own ``.``, and counts 23 in place of its
    characters; every emoji sequence counts 2. So the plain weight, plus 23 per dot and
    2 per emoji sequence, is never below X's count: a hostile word may be cut more than
    needed, never posted too long.
    """
    if len(word) <= LONG_WORD or "." not in word:
        return None
    if (len(word) <= MEDIUM_WORD and word.count(".") <= _FEW_DOTS) or _PLAIN_LINK.fullmatch(word):
        return None
    normalized = unicodedata.normalize("NFC", word)
    emoji = len(emoji_spans(normalized))
    return _plain_weight(normalized) + normalized.count(".") * URL_WEIGHT * _SCALE + emoji * _HEAVY


def _weighted_length(text: str, *, emoji_sequences_weigh_one_char: bool) -> int:
    """twitter-text's count, with the emoji discount of v3 switchable.

    Without the discount this is twitter-text v2, which only the conformance suite
    still uses; X counts with it (:func:`weighted_length`).

    The text is weighed word by word, split at ASCII spaces, tabs and line breaks: a
    URL or an emoji sequence never contains one, and NFC never composes across one.
    What precedes a word matters to twitter-text's URL rule (at the very start of the
    text, "éexample.com" links "example.com"; after a space, all of it), so each word
    but a leading one is weighed after a space, which the URL rule treats like any
    other whitespace, and the space's weight is taken back. The sum is exactly the
    whole-text count (checked against the library on random text). The composer weighs
    many candidates that share most of their words; caching a word's weight spares
    most of the URL regex's cost.
    """
    normalized = _LINE_ENDINGS.sub("\n", text)
    words = _WORD_SEPARATORS.split(normalized)
    separators = len(normalized) - sum(len(word) for word in words)
    total = separators * _LIGHT
    if words[0]:
        total += _word_weight(words[0], emoji_sequences_weigh_one_char)
    for word in words[1:]:
        if word:
            total += _word_weight(" " + word, emoji_sequences_weigh_one_char) - _LIGHT
    return total // _SCALE


@lru_cache(maxsize=8192)
def _word_weight(word: str, emoji_sequences_weigh_one_char: bool) -> int:
    """Weight (in 1/scale units) of one word, with its leading space if it has one.

    Pure, so a cache cannot go stale.
    """
    if (bound := _long_word_bound(word)) is not None:
        return bound
    normalized = unicodedata.normalize("NFC", word)
    # Entities by start index, URLs winning a tie, exactly as parse_tweet walks them.
    entities: dict[int, tuple[int, int]] = {}
    if emoji_sequences_weigh_one_char:
        for start, end in emoji_spans(normalized):
            entities[start] = (end, _HEAVY)
    for found in extract_urls_with_indices(normalized):
        start = found["indices"][0]
        entities[start] = (start + len(found["url"]), URL_WEIGHT * _SCALE)

    total = 0
    position = 0
    for start in sorted(entities):
        if start < position:  # begins inside an entity already counted
            continue
        end, weight = entities[start]
        total += _plain_weight(normalized[position:start]) + weight
        position = end
    return total + _plain_weight(normalized[position:])


def weighted_length(text: str) -> int:
    """The length X gives ``text``: at most :data:`MAX_WEIGHTED_LENGTH` may be posted."""
    return _weighted_length(text, emoji_sequences_weigh_one_char=True)


def has_invalid_characters(text: str) -> bool:
    """True when ``text`` holds a code point X refuses (U+FFFE, U+FEFF, U+FFFF)."""
    return _INVALID_CHARS.search(text) is not None


def is_valid_tweet(text: str) -> bool:
    """Whether X accepts ``text`` as a post: not blank, short enough, no refused character.

    twitter-text only asks for a weight above zero; a post made of spaces alone is
    refused too, so blank text is invalid here.
    """
    return bool(text.strip()) and weighted_length(text) <= MAX_WEIGHTED_LENGTH and not has_invalid_characters(text)
