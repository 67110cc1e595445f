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


def test_the_feeds_own_utm_tags_are_replaced_by_relays() -> None:
    # pcinpact's feed links carry their own UTM parameters: left in, X's visits count as feed visits
    url = (
        "http://www.pcinpact.com/breve/78872-la-dcri-purge-wikipedia.htm"
        "?utm_source=PCi_RSS_Feed&utm_medium=news&utm_campaign=pcinpact"
    )
    assert add_utm(url, campaign="c") == (
        "http://www.pcinpact.com/breve/78872-la-dcri-purge-wikipedia.htm"
        "?utm_source=twitter&utm_medium=social&utm_campaign=c"
    )
    assert add_utm("https://ex.fr/p?id=7&UTM_Source=rss&utm_term=x&b=%C3%A9#top", campaign="c") == (
        "https://ex.fr/p?id=7&b=%C3%A9&utm_source=twitter&utm_medium=social&utm_campaign=c#top"
    ), "other parameters stay as written, in order; every utm_* of the feed goes, whatever its case"
    assert add_utm("https://ex.fr/p?utm_source=rss", campaign="c") == (
        "https://ex.fr/p?utm_source=twitter&utm_medium=social&utm_campaign=c"
    )
    assert add_utm(add_utm("https://ex.fr/p", campaign="c"), campaign="c") == add_utm("https://ex.fr/p", campaign="c")


def test_keep_existing_leaves_a_tagged_link_as_the_feed_wrote_it() -> None:
    url = "https://ex.fr/p?utm_source=rss&utm_medium=feed"
    assert add_utm(url, campaign="c", keep_existing=True) == url
    assert add_utm("https://ex.fr/p?utm_campaign=ete", campaign="c", keep_existing=True) == (
        "https://ex.fr/p?utm_campaign=ete&utm_source=twitter&utm_medium=social"
    )


def test_keep_feed_utm_setting_reaches_the_tweet() -> None:
    from datetime import UTC, datetime

    from relay.config.sections import FeedSettings
    from relay.core.compose import compose_tweet
    from relay.core.models import Post
    from relay.wiring import compose_options

    post = Post(url="https://blog.example/le-pain/?utm_source=rss&utm_medium=rss", title="Le pain")
    today = datetime.now(UTC).date()
    replaced = compose_tweet(post, compose_options(FeedSettings(url="https://blog.example/feed/")), today=today)
    assert replaced.link == "https://blog.example/le-pain/?utm_source=twitter&utm_medium=social&utm_campaign=le-pain"
    kept_options = compose_options(FeedSettings(url="https://blog.example/feed/", keep_feed_utm=True))
    assert compose_tweet(post, kept_options, today=today).link == post.url


def test_ours_are_encoded() -> None:
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
