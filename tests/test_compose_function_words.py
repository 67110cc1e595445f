"""Cuts end on a word that carries meaning: never on an article, preposition, conjunction
or determiner of the post's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relay.core.compose import ComposeOptions, compose_tweet, shorten
from relay.core.language import FUNCTION_WORDS, guess_language, normalise_word
from relay.core.models import Post

FRENCH = (
    "Pendant dix minutes, les enfants de la classe ont couru dans la cour de l’école sans jamais s’arrêter, "
    "et le directeur a regardé la scène avec un sourire pour une fois, puis il est rentré dans son bureau."
)
ENGLISH = (
    "We have a diverse set of applicants to the program this year, and most of them rely on the results of "
    "these tests to decide which of the many tracks in the school they will follow for the rest of the year."
)


def last_word(cut: str) -> str:
    return normalise_word(cut.rstrip("…").rstrip(" ,;:").rsplit(None, 1)[-1])


def test_the_cut_from_the_issue_no_longer_ends_on_an_article() -> None:
    cut = shorten(FRENCH, lambda text: len(text) <= 26)
    assert cut == "Pendant dix minutes…"


@pytest.mark.parametrize(("text", "language"), [(FRENCH, "fr"), (ENGLISH, "en")])
def test_no_word_cut_ends_on_a_function_word(text: str, language: str) -> None:
    assert guess_language(text) == language
    words = FUNCTION_WORDS[language]
    for limit in range(20, len(text)):
        cut = shorten(text, lambda candidate, limit=limit: len(candidate) <= limit)
        if cut and cut != text:
            assert last_word(cut) not in words, (limit, cut)


def test_the_language_is_guessed_from_the_post() -> None:
    assert guess_language("Die Katze und der Hund sind nicht für den Garten") == "de"
    assert guess_language("Los perros y las casas del barrio son para una familia") == "es"
    assert guess_language("12345") == ""


def test_a_composed_french_tweet_never_ends_its_summary_on_a_function_word() -> None:
    today = datetime.now(UTC).date()
    for extra in range(0, 120, 3):
        post = Post(url="https://blog.example/recette/", title="Le pain " + "x" * extra, summary_html=FRENCH)
        text = compose_tweet(post, ComposeOptions(hashtags=False), today=today).text
        summary = text.split("\n\n")[1] if text.count("\n\n") == 2 else ""
        if summary.endswith("…"):
            assert last_word(summary) not in FUNCTION_WORDS["fr"], summary


def test_a_feeds_own_cut_on_a_function_word_is_tidied() -> None:
    post = Post(url="https://blog.example/p/", title="Pain",
                summary_html="<p>Le levain se nourrit de la farine et de [...]</p>")
    text = compose_tweet(post, today=datetime.now(UTC).date()).text
    assert "Le levain se nourrit de la farine…" in text
