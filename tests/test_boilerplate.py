"""What plugins, themes and feed services add around a post never becomes its summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relay.adapters.feed_parser import parse_feed
from relay.core.models import Post
from relay.core.summary import clean_text, summary_for
from tests.conftest import SHARED

BODY = "<p>Le levain se nourrit de farine et d’eau, deux fois par jour.</p>"
TEXT = "Le levain se nourrit de farine et d’eau, deux fois par jour."


@pytest.mark.parametrize(
    "footer",
    [
        '<p>The post <a href="https://b.example/p/">Sourdough</a> appeared first on <a href="https://b.example">B</a>.</p>',
        "<p>L’article <a href=\"https://b.example/p/\">Levain</a> est apparu en premier sur <a href=\"/\">B</a>.</p>",
        '<p>Der Beitrag <a href="https://b.example/p/">Sauerteig</a> erschien zuerst auf <a href="/">B</a>.</p>',
        '<p>La entrada <a href="https://b.example/p/">Masa madre</a> se publicó primero en <a href="/">B</a>.</p>',
        "<p>L'articolo <a href=\"https://b.example/p/\">Lievito</a> sembra essere il primo su <a href=\"/\">B</a>.</p>",
        '<p>O post <a href="https://b.example/p/">Fermento</a> apareceu primeiro em <a href="/">B</a>.</p>',
        '<p><a class="more-link" href="https://b.example/p/">Continue reading <span>Sourdough</span> →</a></p>',
        "<p>Continuer la lecture de « Levain »</p>",
        '<p><a href="https://b.example/p/">Weiterlesen</a></p>',
        "<p>Continuar leyendo</p>",
        "<p>Continua a leggere →</p>",
        "<p>Leia mais</p>",
        # related posts: a plugin's box, and a heading with a list of links (feedsportal's, without its class)
        '<div class="jp-relatedposts"><h3>Related</h3><p><a href="/a">Rye bread</a></p></div>',
        '<p>Articles en rapport</p><ul><li><a href="/a">Cumul des mandats : la réforme reportée</a></li>'
        '<li><a href="/b">Jérôme Cahuzac veut revenir</a></li></ul>',
        "<h4>Ähnliche Beiträge</h4><p>Roggenbrot backen</p>",
        # sharing
        '<p><a href="https://x.com/share">Partager sur X</a> | '
        '<a href="https://fb.com/share">Partager sur Facebook</a></p>',
        "<p>´¯`·.¸¸.·´¯`·.¸ Tweet it: http://clicktotweet.com/M9Qwa ¸.·´¯`·.¸¸.·´¯`</p>",
        "<p>Share on Facebook</p>",
        # planets and Medium
        '<p><i>Article original de <a href="/o">LaFermeDuWeb</a><br />Aller sur <a href="/">Planète jQuery</a></i></p>',
        '<hr><p><a href="/s">Sourdough</a> was originally published in <a href="/p">Bread</a> on Medium, where '
        "people are continuing the conversation by highlighting and responding to this story.</p>",
        # SPIP files its posts with rel="directory" links
        '\n\n-\n<a href="https://b.example/spip.php?rubrique8" rel="directory">Jeux natifs</a>',
    ],
)
def test_boilerplate_goes_and_the_post_stays(footer: str) -> None:
    assert clean_text(BODY + footer) == TEXT


def test_a_block_of_links_is_not_a_summary_but_prose_with_links_is() -> None:
    links = '<p><a href="/a">Rye</a>, <a href="/b">Spelt</a> and <a href="/c">Einkorn breads</a></p>'
    assert clean_text(BODY + links) == TEXT
    prose = ('<p>I learnt it from <a href="/a">Anna</a>, who bakes every morning in a wood oven near Lyon, '
             "and it changed how I think about bread.</p>")
    assert "I learnt it from Anna" in clean_text(prose)
    donations = ('<ul><li>$400 to <a href="/f">FSFE</a></li><li><a href="/n">$5000 to NOYB</a></li>'
                 "<li>$1000 to days for girls, on the advice of a friend</li></ul>")
    assert "$5000 to NOYB" in clean_text(donations), "one linked item in a list of prose stays"


def test_a_description_that_is_only_boilerplate_gives_way_to_the_content() -> None:
    post = Post(url="https://b.example/p/", title="Levain",
                summary_html='<p>Articles en rapport</p><ul><li><a href="/a">Autre article</a></li></ul>',
                content_html=BODY)
    assert summary_for(post) == TEXT


FEEDS = SHARED / "corpus" / "feeds"
SEEN_IN_THE_CORPUS = re.compile(
    r"Articles en rapport|Article original de|Aller sur Planète|Tweet it|clicktotweet|^Related:|Jeux natifs"
    r"|was originally published in|lisez la suite|Leia mais",
    re.MULTILINE,
)


@pytest.mark.parametrize(
    "name",
    [
        "rue89-fr-rss2-feedsportal-drupal.xml",
        "spip-jeuxlinux-fr-rss2-xml-decl-split-line.xml",
        "planete-jquery-fr-rss1-rdf.xml",
        "youtube-channel-atom-media-group-empty-channelid.xml",
        "news-guardian-en-rss2-media-content-images.xml",
        "medium-en-rss2-content-encoded-cdata.xml",
        "uol-pt-rss2-no-xml-decl-latin1-bytes.xml",
    ],
)
def test_no_summary_of_the_corpus_feeds_holds_their_boilerplate(name: str) -> None:
    feed: Path = FEEDS / name
    if not feed.exists():
        pytest.skip(f"{feed} is absent: clone the project with ../shared beside it")
    posts = parse_feed(feed.read_bytes(), url=feed.resolve().as_uri()).posts
    summaries = [summary_for(post) for post in posts]
    assert any(summaries)
    found = [s for s in summaries if SEEN_IN_THE_CORPUS.search(s)]
    assert not found, found[:2]


@pytest.mark.parametrize(
    "prose",
    [
        "I read more books than ever this year, and I loved it.",
        "Je vais lire la suite du livre ce soir avec mes enfants.",
        "Check ‘em out by clicking the read more link!",
    ],
)
def test_read_more_words_inside_a_sentence_are_prose(prose: str) -> None:
    assert clean_text(f"<p>{prose}</p>") == prose
    assert clean_text(f"<p>{prose}</p><p>Texte → Read more</p>") == f"{prose}\nTexte"
