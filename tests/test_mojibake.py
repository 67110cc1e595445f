"""Mojibake is repaired in every text field, HTML included; correct text is never touched."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from relay.adapters.feed_parser import parse_feed
from relay.core.compose import compose_tweet
from relay.core.hashtags import hashtag_body
from relay.core.models import Post
from relay.core.mojibake import repair_mojibake
from relay.core.summary import clean_text, clean_title, summary_for
from tests.conftest import SHARED

MOJIBAKE = re.compile("[ÃÂâÐÑ][\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]")
RSSCOM = SHARED / "corpus" / "feeds" / "wordpress-rsscom-en-rss2-excerpt-hellip-mojibake.xml"


def test_html_summaries_are_repaired_across_paragraphs() -> None:
    # The paragraph marks added while decoding HTML once made the whole repair give up.
    html = "<p>If you donâ€™t know where to start, start here.</p><p>Ã‰tÃ© 2026 : câ€™est parti.</p>"
    assert clean_text(html) == "If you don’t know where to start, start here.\nÉté 2026 : c’est parti."
    post = Post(url="https://blog.example/p/", title="Le dÃ©but", summary_html=html, categories=("Ã‰conomie",))
    assert summary_for(post).startswith("If you don’t know")
    assert clean_title(post.title) == "Le début"
    assert hashtag_body(post.categories[0]) == "Économie"


def test_double_mojibake_and_cyrillic_are_repaired() -> None:
    assert repair_mojibake("donÃ¢â‚¬â„¢t") == "don’t"
    assert repair_mojibake("Ð¿Ñ€Ð¸Ð²ÐµÑ‚") == "привет"


@pytest.mark.parametrize(
    "correct",
    [
        "SÃO PAULO É AQUI",  # Portuguese capitals look like mojibake to a naive rule
        "MÂCON, L’ÉTÉ À PARIS",
        "Ça coûte 10 € — à peine « déjà » ‘x’ “y”",
        "Tschüß – größer, Übermut",
        "¿Qué pasó? ¡Olé!",
        "Ελληνικά, 日本語, привет",
        "Don't stop: straight quotes stay straight",
    ],
)
def test_correct_text_is_never_repaired(correct: str) -> None:
    assert repair_mojibake(correct) == correct
    assert clean_text(f"<p>{correct}</p>") == correct


def test_no_tweet_of_the_mojibake_feed_shows_mojibake() -> None:
    if not RSSCOM.exists():
        pytest.skip(f"{RSSCOM} is absent: clone the project with ../shared beside it")
    posts = [p for p in parse_feed(RSSCOM.read_bytes(), url=RSSCOM.resolve().as_uri()).posts if p.url]
    texts = [compose_tweet(p, today=datetime.now(UTC).date()).text for p in posts]
    assert texts
    broken = [text for text in texts if MOJIBAKE.search(text)]
    assert not broken, broken[:3]
    assert any("’" in text for text in texts), "the repaired apostrophes are there"
