"""Bluesky's text rules at their limits: 300 graphemes, 3,000 bytes, facets as UTF-8 byte ranges.

Every offset is checked the way a Bluesky client reads it: by slicing the text's UTF-8 bytes.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

import pytest

from relay.core.bluesky_text import (
    MAX_GRAPHEMES,
    BlueskyPost,
    compose_bluesky_post,
    detect_facets,
    fits_bluesky,
    grapheme_count,
    short_link,
)
from relay.core.bluesky_tid import is_tid, record_key_for_delivery, tid_from_int, tid_to_int
from relay.core.compose import ComposeOptions
from relay.core.models import Post

TODAY = date(2026, 1, 15)
FAMILY = "👨‍👩‍👧‍👦"  # seven code points, 25 bytes, one grapheme
FLAG = "🇫🇷"  # two regional indicators, 8 bytes, one grapheme
COMBINING = "e\u0301"  # e + combining acute: two code points, one grapheme
TEMPLATE = ComposeOptions(template="{title} {link}", link_override="https://example.com/a", hashtags=False)


def sliced(post: BlueskyPost) -> list[str]:
    data = post.text.encode("utf-8")
    return [data[f.byte_start:f.byte_end].decode("utf-8") for f in post.facets]


def test_graphemes_are_what_a_reader_sees() -> None:
    assert grapheme_count(FAMILY) == 1 and len(FAMILY) == 7
    assert grapheme_count(FLAG) == 1 and grapheme_count(COMBINING) == 1
    assert grapheme_count("Noël à l’école 🇫🇷 " + FAMILY + " " + COMBINING) == 20


def test_exactly_300_graphemes_fit_and_301_do_not() -> None:
    text = (FAMILY * 50) + (FLAG * 50) + (COMBINING * 100) + ("àéïôù" * 20)
    assert grapheme_count(text) == 300 and len(text.encode()) < 3000
    assert fits_bluesky(text)
    assert not fits_bluesky(text + "a")
    assert not fits_bluesky(text + FAMILY)


def test_the_3000_byte_limit_holds_below_300_graphemes() -> None:
    assert len((FAMILY * 120).encode()) == 3000 and fits_bluesky(FAMILY * 120)
    assert grapheme_count(FAMILY * 121) == 121 and not fits_bluesky(FAMILY * 121)


def _title_of(graphemes: int) -> str:
    words = ["Économies", FAMILY, "d’énergie", FLAG, "caf" + COMBINING, "à", "l’école"]
    parts: list[str] = []
    while grapheme_count(" ".join(parts)) < graphemes - 12:
        parts.append(words[len(parts) % len(words)])
    title = " ".join(parts) + " "
    return title + "x" * (graphemes - grapheme_count(title))


def test_a_post_of_exactly_300_graphemes_is_not_cut() -> None:
    display = short_link("https://example.com/a")
    title = _title_of(MAX_GRAPHEMES - 1 - grapheme_count(display))
    post = compose_bluesky_post(Post(url="https://example.com/a", title=title), TEMPLATE, today=TODAY)
    assert post.graphemes == 300 == grapheme_count(post.text)
    assert post.text == unicodedata.normalize("NFC", title) + " " + display  # NFC, as relay cleans titles
    assert sliced(post) == [display]
    assert post.facets[0].value == "https://example.com/a"


def test_one_grapheme_more_and_the_title_is_cut_at_a_word_link_kept() -> None:
    display = short_link("https://example.com/a")
    title = _title_of(MAX_GRAPHEMES - 1 - grapheme_count(display)) + " " + FAMILY
    post = compose_bluesky_post(Post(url="https://example.com/a", title=title), TEMPLATE, today=TODAY)
    assert post.graphemes <= 300 and fits_bluesky(post.text)
    assert "…" in post.text and post.text.endswith(" " + display)
    assert sliced(post) == [display]
    assert "\u200d " not in post.text and not post.text.split(" …")[0].endswith("\u200d")


def test_a_long_url_is_shown_short_while_its_facet_and_card_keep_all_of_it() -> None:
    url = "https://www.example.fr/2026/01/economies-d-energie-dans-la-maison-" + "x" * 150 + "?ref=feed#top"
    options = ComposeOptions(template="{title} {link}", link_override=url, hashtags=False)
    post = compose_bluesky_post(Post(url=url, title="Économies d’énergie"), options, today=TODAY)
    assert post.text == "Économies d’énergie www.example.fr/2026/01/econ..."
    assert sliced(post) == ["www.example.fr/2026/01/econ..."]
    assert post.facets[0].to_record() == {"index": {"byteStart": 24, "byteEnd": 54},
                                          "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}]}
    assert post.card.uri == url and post.link == url


def test_hashtags_and_the_tagged_link_are_facets_over_their_exact_bytes() -> None:
    post = compose_bluesky_post(
        Post(url="https://blog.example.fr/economies", title="Noël 🎄 : économisez " + FLAG,
             summary_html="<p>Des gestes simples pour réduire la facture.</p>",
             categories=("Économies d’énergie", "Salle de bain", "Non classé")),
        today=TODAY,
    )
    assert sliced(post) == ["#ÉconomiesÉnergie", "#SalleDeBain", "blog.example.fr/economies"]
    kinds = [(f.kind, f.value) for f in post.facets]
    assert kinds[:2] == [("tag", "ÉconomiesÉnergie"), ("tag", "SalleDeBain")]
    assert kinds[2][0] == "link" and kinds[2][1].startswith("https://blog.example.fr/economies?utm_")
    assert post.card.title == "Noël 🎄 : économisez " + FLAG
    assert post.card.description == "Des gestes simples pour réduire la facture."
    assert post.card.to_record({"$type": "blob"})["external"] == {
        "uri": post.link, "title": post.card.title, "description": post.card.description,
        "thumb": {"$type": "blob"}}


def test_the_summary_gives_way_before_the_title() -> None:
    summary = " ".join(["Une phrase française assez longue pour remplir le message."] * 12)
    post = compose_bluesky_post(Post(url="https://example.com/b", title="Un titre court",
                                     summary_html=f"<p>{summary}</p>"), today=TODAY)
    assert post.text.startswith("Un titre court\n\n") and fits_bluesky(post.text)
    assert post.graphemes > 200 and post.text.endswith("\n\nexample.com/b")
    assert post.card.description.startswith("Une phrase française")
    assert 200 < grapheme_count(post.card.description) <= 300


def test_facets_are_found_in_plain_text_with_byte_offsets() -> None:
    text = "Café 🇫🇷 : https://example.fr/été?x=1. #Économies #2024 x#no"
    facets = detect_facets(text)
    data = text.encode()
    assert [(f.kind, data[f.byte_start:f.byte_end].decode(), f.value) for f in facets] == [
        ("link", "https://example.fr/été?x=1", "https://example.fr/été?x=1"),
        ("tag", "#Économies", "Économies"),
    ]


@pytest.mark.parametrize("value", [0, 1, 1023, 1 << 40, (1 << 63) - 1])
def test_tids_round_trip_and_have_the_spec_syntax(value: int) -> None:
    tid = tid_from_int(value)
    assert is_tid(tid) and len(tid) == 13 and tid_to_int(tid) == value


def test_tid_edges() -> None:
    assert tid_from_int(0) == "2222222222222"
    assert tid_to_int("3jzfcijpj2z2a") > 0  # the spec's example
    with pytest.raises(ValueError):
        tid_from_int(1 << 63)
    with pytest.raises(ValueError):
        tid_to_int("kjzfcijpj2z2a")  # top bit set


def test_a_delivery_always_gets_the_same_record_key_and_neighbours_differ() -> None:
    queued = datetime(2026, 1, 15, 9, 30, 12, 345678, tzinfo=UTC)
    key = record_key_for_delivery(42, queued)
    assert key == record_key_for_delivery(42, queued) and is_tid(key)
    assert key != record_key_for_delivery(43, queued)
    assert tid_to_int(key) >> 10 == int(queued.timestamp() * 1_000_000) and tid_to_int(key) % 1024 == 42
    assert record_key_for_delivery(42, queued.replace(tzinfo=None)) == key  # naive = UTC
