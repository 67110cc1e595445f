"""The one character count Mastodon and Bluesky share (relay.core.graphemes).

Mastodon counts with Ruby's ``each_grapheme_cluster``, Bluesky with a JavaScript segmenter: both
extended grapheme clusters (UAX #29). The expected counts below are what they give; the Indic
ones are Unicode 15.0's (Ruby 3.x, which Mastodon instances run), one more per conjunct than
Unicode 15.1's rule GB9c, which the ``regex`` module follows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import regex

from relay.core import bluesky_text, mastodon_text
from relay.core.graphemes import grapheme_count

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ("plain ASCII", 11),
    ("é", 1), ("e\u0301", 1), ("e\u0301\u0302", 1), ("o\u0308\u0332", 1),  # combining marks stay on their letter
    ("🇫🇷", 1), ("🇫🇷🇩🇪", 2), ("🇫🇷🇩", 2), ("\U0001f1e6" * 3, 2),  # flags: regional indicators pair up
    ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 1),  # Scotland: a tag sequence
    ("👨‍👩‍👧‍👦", 1), ("👩🏽‍💻", 1), ("🏳️‍🌈", 1), ("👨🏿‍🤝‍👨🏻", 1),  # ZWJ sequences, with skin tones
    ("👍🏽", 1), ("👍🏽👍🏿", 2),  # skin tones
    ("1️⃣", 1), ("#️⃣", 1), ("❤️", 1), ("☕", 1),  # keycaps, variation selectors
    ("한국어", 3), ("\u1100\u1161\u11a8", 1), ("\u1100\u1161\u11a8\u1100\u1161", 2),  # Hangul syllables, jamo
    ("日本語のテキスト", 8), ("ﷺ ﻻ", 3),
    ("\r\n", 1), ("\n\r", 2), ("a\u200db", 2),
    ("Noël à l’école « ici » – 12 €", 29),
]

INDIC = [
    # Unicode 15.0 (GraphemeBreakTest, Ruby 3.x): a consonant after a virama starts a new cluster.
    ("क्या", 2, 1),  # KA VIRAMA YA
    ("\u0915\u094d\u0924", 2, 1),
    ("\u0915\u094d\u094d\u0924", 2, 1),
    ("\u0915\u094d\u200d\u0924", 2, 1),  # a ZWJ between
    ("\u0915\u093c\u094d\u200d\u0924", 2, 1),  # a nukta and a ZWJ
    ("\u0915\u094d\u0924\u094d\u092f", 3, 1),
    ("हिन्दी", 3, 2),
    ("ঝিল্লি", 3, 2),  # Bengali
    ("क्षत्रिय हिन्दी", 9, 6),
]


@pytest.mark.parametrize(("text", "count"), CASES)
def test_what_a_reader_sees_as_one_character_counts_one(text: str, count: int) -> None:
    assert grapheme_count(text) == count
    assert mastodon_text.grapheme_count(text) == bluesky_text.grapheme_count(text) == count


@pytest.mark.parametrize(("text", "count"), CASES)
def test_outside_indic_scripts_the_count_is_the_regex_modules(text: str, count: int) -> None:
    assert grapheme_count(text) == len(regex.findall(r"\X", text))


@pytest.mark.parametrize(("text", "unicode_15_0", "unicode_15_1"), INDIC)
def test_indic_conjuncts_are_counted_as_ruby_3_counts_them_never_fewer(text: str, unicode_15_0: int,
                                                                       unicode_15_1: int) -> None:
    assert len(regex.findall(r"\X", text)) == unicode_15_1  # the regex module follows GB9c
    assert grapheme_count(text) == unicode_15_0
    assert mastodon_text.grapheme_count(text) == bluesky_text.grapheme_count(text) == unicode_15_0


@pytest.mark.parametrize("unit", ["a", "é", "e\u0301", "🇫🇷", "👨‍👩‍👧‍👦", "👍🏽", "한", "\u1100\u1161\u11a8", "語"])
def test_the_limits_hold_for_every_kind_of_character(unit: str) -> None:
    assert mastodon_text.is_valid_status(unit * 500)
    assert not mastodon_text.is_valid_status(unit * 501)
    small = len(unit.encode()) * 300 <= bluesky_text.MAX_BYTES
    assert bluesky_text.fits_bluesky(unit * 300) == small
    assert not bluesky_text.fits_bluesky(unit * 301)


def test_there_is_one_count_not_two() -> None:
    assert bluesky_text.grapheme_count is grapheme_count
    source = (ROOT / "relay/core/mastodon_text.py").read_text(encoding="utf-8")
    assert "unicodedata" not in source and "emoji_spans" not in source


def test_mastodon_text_alone_does_not_load_regex() -> None:
    """relay imports relay.core.mastodon_text at start (wiring, networks): ``regex`` comes only with a count."""
    code = ("import sys, relay.core.mastodon_text as m; assert 'regex' not in sys.modules; "
            "m.mastodon_length('a'); assert 'regex' in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
