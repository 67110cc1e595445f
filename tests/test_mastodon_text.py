"""Mastodon's length rule and the status composer, at the limits (relay.core.mastodon_text)."""

from __future__ import annotations

from datetime import date

import pytest

from relay.core.compose import ComposeOptions, compose_tweet
from relay.core.language import function_words, normalise_word
from relay.core.mastodon_text import (
    DEFAULT_LIMITS,
    MastodonLimits,
    compose_status,
    countable_text,
    grapheme_count,
    is_valid_status,
    mastodon_length,
)
from relay.core.models import Post

TODAY = date(2024, 5, 2)
URL = "https://www.plomberie-dupont.fr/blog/douche-italienne-nantes/"
LONG_URL = "https://example.com/" + "a" * 1980
SUMMARY = (
    "Vous rêvez d’une douche à l’italienne\u00a0? Voici comment nous avons transformé une salle de bain "
    "des années 80 en un espace lumineux et facile à vivre. Carrelage grand format, niche murale, "
    "mitigeur thermostatique\u00a0: chaque choix compte. Nous détaillons les étapes, les délais et le "
    "budget, poste par poste, pour que vous puissiez préparer votre propre projet sereinement. "
)


# -- the count -------------------------------------------------------------------------------------


def test_exactly_the_limit_is_accepted_and_one_more_is_refused() -> None:
    assert mastodon_length("a" * 500) == 500
    assert is_valid_status("a" * 500)
    assert not is_valid_status("a" * 501)


def test_a_2000_character_url_counts_23() -> None:
    assert len(LONG_URL) == 2000
    text = "a" * 476 + " " + LONG_URL
    assert mastodon_length(text) == 500
    assert is_valid_status(text)
    assert not is_valid_status("a" + text)


@pytest.mark.parametrize("url", ["http://a.co", "https://example.com/", "https://example.com/" + "b" * 80, LONG_URL])
def test_every_url_counts_23_at_the_limit_whatever_its_length(url: str) -> None:
    """A URL shorter than 23 counts 23 too: Mastodon reserves the same room for every link."""
    text = "a" * (500 - 23 - 1) + " " + url
    assert mastodon_length(text) == 500 and is_valid_status(text)
    assert not is_valid_status("a" + text)
    two = "a" * (500 - 2 * 23 - 2) + " " + url + " " + url
    assert mastodon_length(two) == 500 and is_valid_status(two)
    assert not is_valid_status("a" + two)


def test_an_instance_with_a_larger_limit_accepts_exactly_its_limit() -> None:
    limits = MastodonLimits(max_characters=1000)
    text = "é" * (1000 - 24) + " " + LONG_URL
    assert mastodon_length(text) == 1000
    assert is_valid_status(text, limits) and not is_valid_status(text)  # 1000 is too long at the default 500
    assert not is_valid_status("é" + text, limits)


def test_only_urls_with_a_protocol_count_23() -> None:
    assert mastodon_length("example.com") == len("example.com")
    assert mastodon_length("http://example.com/" + "x" * 100) == 23
    assert mastodon_length("see https://example.com/a and http://example.org/b") == len("see  and ") + 2 * 23


def test_the_url_weight_follows_the_instance() -> None:
    assert mastodon_length("https://example.com/" + "x" * 50, url_length=30) == 30
    limits = MastodonLimits(max_characters=100, characters_reserved_per_url=50)
    assert is_valid_status("a" * 49 + " " + LONG_URL, limits)
    assert not is_valid_status("a" * 50 + " " + LONG_URL, limits)


def test_a_remote_mention_counts_its_local_part_only() -> None:
    assert countable_text("hi @alice@mastodon.social") == "hi @alice"
    assert mastodon_length("@alice@mastodon.social") == len("@alice")
    assert mastodon_length("@bob") == 4
    assert mastodon_length("mail me: a@b.example") == len("mail me: a@b.example")  # not a mention


def test_the_content_warning_counts_too() -> None:
    assert mastodon_length("a" * 10, spoiler_text="CW") == 12


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("é" * 500, 500),  # precomposed
        ("e\u0301" * 500, 500),  # decomposed: a letter and its accent are one character
        ("語" * 500, 500),  # CJK counts 1 (X would weigh it 2)
        ("👍" * 500, 500),
        ("👨‍👩‍👧‍👦" * 500, 500),  # a family is one character
        ("🇫🇷" * 500, 500),
        ("👍🏽" * 500, 500),
        ("한" * 500, 500),
        ("Ça coûte 12 € « hors taxes » – voilà’", 37),
    ],
)
def test_graphemes_count_one_each(text: str, count: int) -> None:
    assert grapheme_count(text) == count
    assert is_valid_status(text) == (count <= 500)


def test_501_emoji_or_ideographs_are_refused() -> None:
    assert not is_valid_status("👨‍👩‍👧‍👦" * 501)
    assert not is_valid_status("語" * 501)
    assert not is_valid_status("e\u0301" * 501)


SAMPLES = [
    "plain ASCII text", "é è ê ë à ç œ « » ’ …", "e\u0301\u0302 o\u0308", "日本語のテキスト、中文，한국어",
    "\u1100\u1161\u11a8 \u1100\u1161", "👨‍👩‍👧‍👦👩🏽‍💻🏳️‍🌈🇫🇷🇩🇪1️⃣#️⃣", "🇫🇷🇩", "a\u200db\u200c", "\r\n\n\r",
    "ﷺ ﻻ العربية", "emoji ❤️ text ☕ ✈️ and ©", "\U0001f1e6\U0001f1e6\U0001f1e6",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_the_grapheme_count_agrees_with_the_regex_module(text: str) -> None:
    regex = pytest.importorskip("regex")
    assert grapheme_count(text) == len(regex.findall(r"\X", text))


def test_indic_conjuncts_are_counted_more_never_less() -> None:
    """Unicode 15.1 joins consonants across a virama (rule GB9c); this count does not, so a Hindi
    status may be cut a few characters early, never refused."""
    regex = pytest.importorskip("regex")
    text = "क्षत्रिय हिन्दी"
    assert grapheme_count(text) >= len(regex.findall(r"\X", text))


def test_blank_is_not_a_status() -> None:
    assert not is_valid_status("   \n ")


def test_limits_are_read_from_the_instance_document() -> None:
    instance = {"configuration": {"statuses": {"max_characters": 1000, "characters_reserved_per_url": 23,
                                               "max_media_attachments": 8},
                                  "media_attachments": {"description_limit": 1500, "image_size_limit": 10485760}}}
    limits = MastodonLimits.from_instance(instance)
    assert limits == MastodonLimits(1000, 23, 8, 1500, 10485760)
    assert MastodonLimits.from_instance({}) == DEFAULT_LIMITS
    odd = {"configuration": {"statuses": {"max_characters": "many", "characters_reserved_per_url": True}}}
    assert MastodonLimits.from_instance(odd) == DEFAULT_LIMITS


# -- the composer ----------------------------------------------------------------------------------


def post(**changes: object) -> Post:
    fields: dict[str, object] = {
        "url": URL, "title": "Salle de bain : notre chantier « douche à l’italienne » à Nantes",
        "summary_html": f"<p>{SUMMARY}</p>", "categories": ("Salle de bain", "Rénovation"),
    }
    fields.update(changes)
    return Post(**fields)  # type: ignore[arg-type]


def test_a_post_that_fits_is_posted_whole_where_x_would_cut_it() -> None:
    status = compose_status(post(), today=TODAY)
    tweet = compose_tweet(post(), today=TODAY)
    assert SUMMARY.strip() in status.text
    assert SUMMARY.strip() not in tweet.text
    assert status.text.endswith(status.link)
    assert "#SalleDeBain" in status.text
    assert "utm_source=" in status.link and status.link == tweet.link
    assert status.length == mastodon_length(status.text) <= 500


def test_a_long_summary_is_cut_at_a_word_never_after_a_function_word() -> None:
    long_post = post(summary_html="<p>" + SUMMARY * 4 + "</p>")
    words = function_words("fr")
    for limit in range(180, 501, 13):
        status = compose_status(long_post, today=TODAY, limits=MastodonLimits(max_characters=limit))
        assert mastodon_length(status.text) <= limit
        assert status.link in status.text
        summary = status.text.split("\n\n")[1]
        if summary.endswith("…"):
            last = summary[:-1].split()[-1]
            assert normalise_word(last) not in words, (limit, summary)
            assert (summary[:-1] + " ").strip() in SUMMARY * 4


def test_the_instance_limit_is_used_whole() -> None:
    long_post = post(summary_html="<p>" + SUMMARY * 4 + "</p>")
    small = compose_status(long_post, today=TODAY)
    large = compose_status(long_post, today=TODAY, limits=MastodonLimits(max_characters=1000))
    assert 450 < small.length <= 500 < large.length <= 1000
    assert small.max_characters == 500 and large.max_characters == 1000


def test_a_2000_character_link_stays_whole_and_counts_23() -> None:
    status = compose_status(post(url=LONG_URL), ComposeOptions(link_override=LONG_URL), today=TODAY)
    assert status.link == LONG_URL and LONG_URL in status.text
    assert status.length <= 500 < len(status.text)


def test_on_a_tiny_limit_the_title_is_cut_last_and_the_link_kept() -> None:
    status = compose_status(post(), today=TODAY, limits=MastodonLimits(max_characters=60))
    assert status.text.endswith(status.link)
    assert status.length <= 60
    assert "#" not in status.text.replace(status.link, "")


def test_cjk_and_emoji_titles_use_the_limit_mastodon_gives_them() -> None:
    title = "東京の新しいカフェ☕️を紹介します" * 10
    status = compose_status(post(title=title, summary_html=""), today=TODAY)
    assert status.length <= 500
    assert title in status.text  # 170 graphemes fit: X would have cut this title


def test_no_status_can_carry_a_link_too_long_for_the_limit() -> None:
    with pytest.raises(ValueError, match="can carry the link"):
        compose_status(post(url="https://example.com/x"), ComposeOptions(link_override="example.com/" + "a" * 40),
                       today=TODAY, limits=MastodonLimits(max_characters=30))
