"""relay's tweet length against twitter-text's official conformance suite.

The suite is read from ../shared/twitter-text/conformance at test time (upstream asks
for that rather than a copy). One test per case, so the pytest summary shows how many
ran; a count test makes a silently empty or truncated suite fail instead of pass.

Sections and the counting they are written for (as upstream's own runners use them):
``WeightedTweetsCounterTest`` is twitter-text v2 (no emoji discount),
``WeightedTweetsWithDiscountedEmojiCounterTest`` and
``UnicodeDirectionalMarkerCounterTest`` are v3, which X uses and
:func:`relay.weighted_length` implements. The URL sections of extract.yml check the
URL finder the composer relies on to never cut a URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from twitter_text import parse_tweet

from relay.core.length import (
    _LINE_ENDINGS,
    _WORD_SEPARATORS,
    _long_word_bound,
    _weighted_length,
    emoji_spans,
    find_urls,
    is_valid_tweet,
    weighted_length,
)

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "twitter-text" / "conformance"
SKIP_REASON = f"twitter-text conformance suite not found at {CONFORMANCE}: put ../shared beside the repository"

V2_SECTIONS = ("WeightedTweetsCounterTest",)
V3_SECTIONS = ("WeightedTweetsWithDiscountedEmojiCounterTest", "UnicodeDirectionalMarkerCounterTest")
URL_LIST_SECTIONS = ("urls", "tco_urls_with_params")
URL_INDEX_SECTIONS = ("urls_with_indices", "urls_with_directional_markers")

EXPECTED_CASES = {
    "WeightedTweetsCounterTest": 20,
    "WeightedTweetsWithDiscountedEmojiCounterTest": 22,
    "UnicodeDirectionalMarkerCounterTest": 2,
    "urls": 91,
    "tco_urls_with_params": 5,
    "urls_with_indices": 10,
    "urls_with_directional_markers": 2,
}
"""Cases per section in the pinned copy (twitter-text v3.1.0 data; sha256 in PROVENANCE.md)."""


def _load(name: str) -> dict[str, list[dict[str, Any]]]:
    path = CONFORMANCE / name
    if not path.exists():
        return {}  # every test below is then skipped with SKIP_REASON (shown by -ra, set in pyproject)
    tests: dict[str, list[dict[str, Any]]] = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    return tests


VALIDATE = _load("validate.yml")
EXTRACT = _load("extract.yml")


def _cases(suite: dict[str, list[dict[str, Any]]], sections: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(section, case, id=f"{section}: {case['description']}")
        for section in sections
        for case in suite.get(section, [])
    ]


needs_suite = pytest.mark.skipif(not VALIDATE or not EXTRACT, reason=SKIP_REASON)


@needs_suite
@pytest.mark.parametrize("section", sorted(EXPECTED_CASES))
def test_every_section_is_loaded_whole(section: str) -> None:
    suite = VALIDATE if section in V2_SECTIONS + V3_SECTIONS else EXTRACT
    loaded = len(suite.get(section, []))
    print(f"{section}: {loaded} cases")
    assert loaded == EXPECTED_CASES[section], (
        f"{section} has {loaded} cases, expected {EXPECTED_CASES[section]}: the suite changed, "
        "check the new cases and update EXPECTED_CASES"
    )


@needs_suite
@pytest.mark.parametrize(("section", "case"), _cases(VALIDATE, V3_SECTIONS))
def test_weighted_length_v3(section: str, case: dict[str, Any]) -> None:
    assert weighted_length(case["text"]) == case["expected"]["weightedLength"]
    assert is_valid_tweet(case["text"]) == case["expected"]["valid"]


@needs_suite
@pytest.mark.parametrize(("section", "case"), _cases(VALIDATE, V2_SECTIONS))
def test_weighted_length_v2_without_emoji_discount(section: str, case: dict[str, Any]) -> None:
    assert _weighted_length(case["text"], emoji_sequences_weigh_one_char=False) == case["expected"]["weightedLength"]


@needs_suite
@pytest.mark.parametrize(("section", "case"), _cases(EXTRACT, URL_LIST_SECTIONS))
def test_url_extraction(section: str, case: dict[str, Any]) -> None:
    assert [found.url for found in find_urls(case["text"])] == case["expected"]


@needs_suite
@pytest.mark.parametrize(("section", "case"), _cases(EXTRACT, URL_INDEX_SECTIONS))
def test_url_extraction_with_indices(section: str, case: dict[str, Any]) -> None:
    expected = [(url["url"], *url["indices"]) for url in case["expected"]]
    found = find_urls(case["text"])
    assert [tuple(url) for url in found] == expected
    assert all(case["text"][url.start : url.end] == url.url for url in found)


# The counting loop is relay's own (for speed); it must agree with the library's
# reference implementation on any text, not only on the suite's cases.

_PIECES = [
    *"abc XYZ 019.#*/:?&=-_\n\r\t\f«»’…éÉ@$()",
    *["\u00a0", "\u202f", "\u200d", "\ufe0f", "\u20e3", "\u0301", "\u0308", "\u1100\u1161", "\ufeff", "  "],
    *["\u2066", "\u202a", "日本", "中国", "😷", "👨\u200d👩\u200d👧", "🇫🇷", "👍🏽", "©", "‼", "\r\n", "é"],
    *["https://", "http://t.co/", "example.com", "README.md", "www.", ".fr/a?b=1", "ａ.com", ".co.jp/x"],
]
_TWEETISH = st.lists(st.sampled_from(_PIECES), max_size=60).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_TWEETISH)
def test_weighted_length_agrees_with_twitter_text(text: str) -> None:
    """Exact on every text, except that a long dotted word may be weighed by its bound: never less than X's count."""
    words = _WORD_SEPARATORS.split(_LINE_ENDINGS.sub("\n", text))
    if any(_long_word_bound(word) is not None for word in words):
        assert weighted_length(text) >= parse_tweet(text).weightedLength
    else:
        assert weighted_length(text) == parse_tweet(text).weightedLength


def test_emoji_spans_agree_with_twitter_text() -> None:
    from twitter_text.regexp.emoji import emoji

    text = "1️⃣ #️⃣ 2024 #tag © ® ‼ 👨‍👩‍👧 🇫🇷🇧🇪 👍🏽 ✌️ 日本 😷 « x » …"
    assert emoji_spans(text) == [match.span() for match in emoji.finditer(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Économies d’énergie : « 5 conseils »", 36),  # accents, ’ « » and U+00A0 weigh 1
        ("Pause\u202f!", 8),  # U+202F (narrow no-break space) weighs 2
        ("Lire la suite…", 15),  # … weighs 2
        ("Voir https://www.exemple.fr/un/très/long/chemin/de/plus/de/23/caractères", 28),
        ("Le fichier README.md", 34),  # a bare name with a TLD is a URL
        ("Famille 👨‍👩‍👧", 10),  # a ZWJ sequence counts once
        ("e\u0301", 1),  # NFC: e + combining acute is é
        ("", 0),
    ],
)
def test_french_examples(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_validity_edges() -> None:
    assert is_valid_tweet("x" * 280)
    assert not is_valid_tweet("x" * 281)
    assert is_valid_tweet("…" * 140)
    assert not is_valid_tweet("…" * 141)
    assert not is_valid_tweet("")
    assert not is_valid_tweet(" \n ")
    assert not is_valid_tweet("Bonjour\ufeff")
