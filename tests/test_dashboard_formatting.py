"""How the dashboard writes numbers, dollars and times, in each language and the configured zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from relay.routes.formatting import Formats

NBSP, NNBSP = "\u00a0", "\u202f"


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ")


@pytest.mark.parametrize(
    ("lang", "amount", "fine", "written"),
    [
        ("fr", 1.4, False, "1,40 $"),
        ("en", 1.4, False, "$1.40"),
        ("fr", 1234.5, False, "1 234,50 $"),
        ("en", 1234.5, False, "$1,234.50"),
        ("fr", 0.035, True, "0,035 $"),
        ("en", 0.035, True, "$0.035"),
    ],
)
def test_dollars_are_written_as_the_language_writes_them(lang: str, amount: float, fine: bool, written: str) -> None:
    assert plain(Formats(lang).money(amount, fine=fine)) == written


def test_numbers_and_rates() -> None:
    assert plain(Formats("fr").number(12345)) == "12 345" and Formats("en").number(12345) == "12,345"
    assert Formats("fr").number(None) == "–"
    assert plain(Formats("fr").percent(0.0123)) == "1,2 %" and Formats("en").percent(0.0123) == "1.2%"
    assert Formats("en").percent(None) == "–"


@pytest.mark.parametrize(
    ("moment", "lang", "written"),
    [
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "fr", "25 nov. 2026, 13:00"),  # winter: UTC+1
        (datetime(2026, 7, 14, 12, 0, tzinfo=UTC), "fr", "14 juil. 2026, 14:00"),  # summer: UTC+2
        (datetime(2026, 11, 25, 23, 30, tzinfo=UTC), "en", "Nov 26, 2026, 12:30 AM"),  # the next day in Paris
    ],
)
def test_times_are_in_the_configured_zone(moment: datetime, lang: str, written: str) -> None:
    assert plain(Formats(lang, "Europe/Paris").when(moment)) == written


def test_the_zone_is_named_in_the_pages_language() -> None:
    winter = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert Formats("fr", "Europe/Paris").zone_label(winter) == "heure normale d’Europe centrale (Europe/Paris)"
    assert Formats("en", "Europe/Paris").zone_label(winter) == "Central European Standard Time (Europe/Paris)"
    assert "(UTC)" in Formats("fr").zone_label(winter)
    assert Formats("fr").day(date(2026, 10, 27)) == "27 oct." and Formats("en").day(date(2026, 10, 27)) == "Oct 27"


@pytest.mark.parametrize(("label", "variant", "lang", "shown"), [
    ("variant 0", 0, "fr", "Texte 1"),
    ("variant 2", 2, "en", "Text 3"),
    ("republish-2", 3, "fr", "Nouveau partage 2"),
    ("v0b", 0, "fr", "Texte 1, reformulé"),
    ("v1b", 1, "en", "Text 2, reworded"),
    ("printemps", 1, "fr", "printemps"),  # a utm_content the owner chose in a template
    ("vb", 0, "en", "vb"),
])
def test_tweets_are_named_in_words_not_by_relays_tags(label: str, variant: int, lang: str, shown: str) -> None:
    from relay.routes.dashboard import labels

    assert Formats(lang).tweet_label(label, variant, labels()[lang]) == shown
