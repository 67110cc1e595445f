"""UTM tagging that leaves the blog's own link intact, relative links, campaign slugs."""

from __future__ import annotations

import pytest

from relay.core.links import add_utm, post_slug, resolve_link, slugify


def test_tags_are_added_in_a_fixed_order() -> None:
    assert add_utm("https://www.plomberie-dupont.fr/blog/douche-italienne/", campaign="douche-italienne") == (
        "https://www.plomberie-dupont.fr/blog/douche-italienne/"
        "?utm_source=twitter&utm_medium=social&utm_campaign=douche-italienne"
    )
    assert add_utm("https://ex.fr/p", source="x", medium="reseau", campaign="c", content="republication") == (
        "https://ex.fr/p?utm_source=x&utm_medium=reseau&utm_campaign=c&utm_content=republication"
    )


def test_existing_query_is_kept_byte_for_byte_and_in_order() -> None:
    url = "https://www.jeuxlinux.fr/spip.php?page=article&id_article=1342&lang=fr&q=%C3%A9t%C3%A9+2024&x="
    assert add_utm(url, campaign="c") == url + "&utm_source=twitter&utm_medium=social&utm_campaign=c"


def test_fragment_stays_last() -> None:
    assert add_utm("https://ex.fr/p?a=1#commentaires", campaign="c") == (
        "https://ex.fr/p?a=1&utm_source=twitter&utm_medium=social&utm_campaign=c#commentaires"
    )
    assert add_utm("https://ex.fr/p#top", campaign="c") == (
        "https://ex.fr/p?utm_source=twitter&utm_medium=social&utm_campaign=c#top"
    )


def test_a_link_already_tagged_is_not_tagged_twice() -> None:
    # pcinpact's feed links carry their own UTM parameters
    url = (
        "http://www.pcinpact.com/breve/78872-la-dcri-purge-wikipedia.htm"
        "?utm_source=PCi_RSS_Feed&utm_medium=news&utm_campaign=pcinpact"
    )
    assert add_utm(url, campaign="c") == url
    assert add_utm(add_utm("https://ex.fr/p", campaign="c"), campaign="d") == add_utm("https://ex.fr/p", campaign="c")


def test_only_missing_tags_are_added_and_ours_are_encoded() -> None:
    assert add_utm("https://ex.fr/p?utm_campaign=ete", campaign="c") == (
        "https://ex.fr/p?utm_campaign=ete&utm_source=twitter&utm_medium=social"
    )
    assert add_utm("https://ex.fr/p?", campaign="salle de bain & cuisine") == (
        "https://ex.fr/p?utm_source=twitter&utm_medium=social&utm_campaign=salle%20de%20bain%20%26%20cuisine"
    )
    assert add_utm("https://ex.fr/p?a=1&", campaign="") == "https://ex.fr/p?a=1&utm_source=twitter&utm_medium=social"


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/2024/05/douche/", "https://ex.fr/blog/feed/", "https://ex.fr/2024/05/douche/"),
        ("../douche/", "https://ex.fr/blog/feed/", "https://ex.fr/blog/douche/"),
        ("//cdn.ex.fr/p", "https://ex.fr/", "https://cdn.ex.fr/p"),
        ("\n  https://ex.fr/p  \n", "https://other.fr/", "https://ex.fr/p"),
        ("/mon article/", "https://ex.fr/", "https://ex.fr/mon%20article/"),
        ("", "https://ex.fr/p", "https://ex.fr/p"),
    ],
)
def test_resolve_link(link: str, base: str, expected: str) -> None:
    assert resolve_link(link, base) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Économies d’énergie : 5 conseils", "economies-d-energie-5-conseils"),
        ("Le cœur de la Maison", "le-coeur-de-la-maison"),
        ("Ça coûte 10 € !", "ca-coute-10"),
        ("  --  ", ""),
        ("Привет", ""),
    ],
)
def test_slugify_folds_accents(text: str, expected: str) -> None:
    assert slugify(text) == expected


def test_long_slugs_are_cut_at_a_hyphen() -> None:
    slug = slugify("Comment choisir sa douche à l’italienne quand on a une petite salle de bain mansardée")
    assert slug == "comment-choisir-sa-douche-a-l-italienne-quand-on-a-une"
    assert len(slug) <= 60 and not slug.endswith("-")


@pytest.mark.parametrize(
    ("url", "title", "expected"),
    [
        ("http://sametmax.com/les-mensonges-des-dsl/", "Les mensonges des DSL", "les-mensonges-des-dsl"),
        ("https://ex.fr/2024/05/douche-italienne.html", "Autre titre", "douche-italienne"),
        ("http://www.jeuxlinux.fr/spip.php?breve1342", "Le renouveau de LinuxConsole", "le-renouveau-de-linuxconsole"),
        ("http://www.universfreebox.com/article20302.html", "Retour de Xavier Niel", "retour-de-xavier-niel"),
        ("https://ex.fr/?p=123", "Été 2024", "ete-2024"),
        ("https://ex.fr/2024/05/12/", "Été 2024", "ete-2024"),
    ],
)
def test_post_slug_prefers_the_permalink_slug(url: str, title: str, expected: str) -> None:
    assert post_slug(url, title) == expected
