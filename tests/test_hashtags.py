"""Categories to hashtags X will link whole."""

from __future__ import annotations

import unicodedata

import pytest

from relay.core.hashtags import HASHTAG_JOINERS, hashtag_body, hashtags_for


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Salle de bain", "SalleDeBain"),
        ("Économies", "Économies"),
        ("économie", "économie"),  # one word keeps the case its author gave it
        ("WordPress", "WordPress"),
        ("assemblée nationale", "AssembléeNationale"),
        ("Mmog - mmorpg", "MmogMmorpg"),
        ("Rue89 Sport", "Rue89Sport"),
        ("Course à pied", "CourseÀPied"),
        ("Salle de bain &amp; cuisine", "SalleDeBainCuisine"),
        ("Artisan·e·s", "Artisan·e·s"),  # X keeps the middle dot of French inclusive writing
        ("snake_case", "snake_case"),
        ("C++ / C#", "CC"),
        ("#DéjàTagué", "DéjàTagué"),
        ("Cafe\u0301", "Café"),  # NFC
        ("2024", "2024"),
    ],
)
def test_hashtag_body(category: str, expected: str) -> None:
    assert hashtag_body(category) == expected


def test_only_characters_x_links_remain() -> None:
    for category in ["Prix : 10 € (TTC) !", "Rock'n'roll", "Bien-être", "100% naturel", "été 🌞 2024"]:
        for char in hashtag_body(category):
            category_code = unicodedata.category(char)
            assert category_code[0] in "LM" or category_code == "Nd" or char in HASHTAG_JOINERS, (category, char)


def test_hashtags_for_keeps_order_and_counts() -> None:
    tags = hashtags_for(["Salle de bain", "Rénovation", "Plomberie", "Nantes"], max_count=3)
    assert tags == ["#SalleDeBain", "#Rénovation", "#Plomberie"]
    assert hashtags_for(["Salle de bain"], max_count=0) == []


def test_placeholders_numbers_duplicates_and_long_names_are_dropped() -> None:
    categories = [
        "Uncategorized",
        "Non classé",
        "NON CLASSÉ",
        "2024",
        "1_000",
        "Rénovation",
        "rénovation",
        "RÉNOVATION",
        "Conseils pour bien choisir sa cuisine équipée",
        "Isolation",
    ]
    assert hashtags_for(categories, max_count=5) == ["#Rénovation", "#Isolation"]


@pytest.mark.parametrize("denied", ["salle de bain", "#SalleDeBain", "SALLEDEBAIN", "Salle-de-bain"])
def test_deny_list_is_case_insensitive_with_or_without_hash(denied: str) -> None:
    assert hashtags_for(["Salle de bain", "Plomberie"], max_count=3, deny=[denied]) == ["#Plomberie"]


def test_a_denied_tag_does_not_use_up_the_count() -> None:
    assert hashtags_for(["Promo", "A", "B", "C"], max_count=2, deny={"promo"}) == ["#A", "#B"]


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Économies d’énergie", "ÉconomiesÉnergie"),
        ("Adoucisseur d'eau", "AdoucisseurEau"),
        ("L’été indien", "ÉtéIndien"),
        ("Qu’est-ce que le levain", "EstCeQueLeLevain"),
        ("Voyage jusqu’à Lyon", "VoyageÀLyon"),
        ("Women's suffrage", "WomensSuffrage"),
        ("Don’t panic", "DontPanic"),
        ("n’importe quoi", "NimporteQuoi"),
        ("aujourd’hui", "aujourdhui"),
        ("Salle de bain", "SalleDeBain"),
    ],
)
def test_elided_articles_are_dropped_and_english_endings_kept(category: str, expected: str) -> None:
    assert hashtag_body(category) == expected


def test_a_denied_category_with_an_elision_is_still_denied() -> None:
    assert hashtags_for(["Économies d’énergie", "Pain"], max_count=3, deny=["économies d'énergie"]) == ["#Pain"]


def test_a_backslash_escaped_apostrophe_is_an_apostrophe() -> None:
    # TechCrunch's feed sends PHP's addslashes output: "angie\'s list"
    assert hashtag_body("angie\\'s list") == "AngiesList"
