"""parse_page_meta on every real page of ../shared/corpus/pages, and on the traps one by one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relay.adapters.page_meta import NO_CARD_WARNING, PageMeta, parse_page_meta

PAGES_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pages"
PAGES = sorted(PAGES_DIR.glob("*.html")) if PAGES_DIR.exists() else []
NO_CORPUS = "../shared/corpus is absent: clone the project with ../shared beside it to run the corpus tests"
PAGE_URL = "https://www.example.fr/2020/01/article/"


def page(name: str) -> PageMeta:
    path = PAGES_DIR / name
    if not path.exists():
        pytest.skip(NO_CORPUS)
    return parse_page_meta(path.read_bytes(), url=PAGE_URL)


def test_the_corpus_is_there() -> None:
    if not PAGES:
        pytest.skip(NO_CORPUS)
    assert len(PAGES) == 20


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_every_corpus_page_gives_absolute_urls_and_clean_text(path: Path) -> None:
    meta = parse_page_meta(path.read_bytes(), url=PAGE_URL)
    for url in (meta.og_image, meta.canonical_url):
        assert url is None or url.startswith(("http://", "https://")), url
        assert url is None or ("{{" not in url and "&amp;" not in url), url
    for text in (meta.og_title, meta.og_description, meta.og_image_alt):
        assert text is None or (text == text.strip() and "&#" not in text and "Ã" not in text), text
    assert (NO_CARD_WARNING in meta.warnings) == (meta.og_image is None and meta.twitter_card is None)


# Every page: (og_image or its start, twitter_card, canonical URL or its start); None means absent.
EXPECTED = {
    "20minutes-fr-article-jsonld.html": (
        "https://img.20mn.fr/xYzRmISVRhC49J8Z5IBATw/648x360_",
        "summary_large_image",
        "https://www.20minutes.fr/sport/football/2155935-",
    ),
    "alternatives-economiques-fr-2007-wayback-latin1-invalid-bytes.html": (None, None, None),
    "aoc-media-fr-wordpress-multiple-og-image.html": (
        "https://aoc.media/wp-content/uploads/2019/12/capture-d-e-cran-2019-12-09-a-15-09-51.png",
        "summary_large_image",
        "https://aoc.media/opinion/2019/12/09/",
    ),
    "blogger-en-post-single-quoted-meta.html": (
        "https://1.bp.blogspot.com/-YIPC5jkXkDE/",
        None,
        "http://siliconexposed.blogspot.com/2016/05/",
    ),
    "bondyblog-fr-article-tags.html": (
        "https://www.bondyblog.fr/app/uploads/2020/02/WhatsApp-Image",
        "summary_large_image",
        "https://www.bondyblog.fr/societe/",
    ),
    "framablog-fr-wordpress-post.html": (
        None,
        None,
        "https://framablog.org/2017/12/02/avancer-ensemble-vers-la-contribution/",
    ),
    "franceculture-fr-article-jsonld.html": (
        "https://cdn.radiofrance.fr/s3/cruiser-production/2020/01/",
        "summary_large_image",
        "https://www.franceculture.fr/emissions/",
    ),
    "hugo-keithjgrant-en-post.html": (
        "https://keithjgrant.com/images/2018/standout-citrus.jpg",
        "summary",
        "https://keithjgrant.com/posts/2018/06/",
    ),
    "infocomcgt-fr-wordpress-post-tags.html": (
        "https://www.infocomcgt.fr/wp-content/uploads/2018/04/Caisse-de-solidarit",
        "summary",
        "https://www.infocomcgt.fr/caisse-de-solidarite-financiere/",
    ),
    "lanouvellerepublique-fr-angular-template-placeholder-og-image.html": (
        "https://www.lanouvellerepublique.fr/theme/nrco/images/meta/placeholder_nr.png",
        "summary_large_image",
        None,
    ),
    "laviedesidees-fr-spip-article.html": (
        "https://laviedesidees.fr/IMG/arton813.jpg?1248213600",
        "summary_large_image",
        "http://www.laviedesidees.fr/L-evaluation-et-les-listes-de.html",
    ),
    "ledevoir-ca-fr-news-article-jsonld.html": (
        "https://media2.ledevoir.com/images_galerie/nwd_789720_623516/image.jpg",
        None,
        "https://www.ledevoir.com/politique/montreal/573258/",
    ),
    "lemonde-fr-article-readability.html": (
        "http://s1.lemde.fr/image/2015/05/05/600x315/",
        "summary_large_image",
        "http://www.lemonde.fr/pixels/article/2015/05/04/",
    ),
    "liberation-fr-article-ie-conditional-html-tags.html": (
        "http://md1.libe.com/photo/755923-000_hkg10175905.jpg?modified_at=1430371146&width=750",
        "summary_large_image",
        "http://www.liberation.fr/monde/2015/04/30/",
    ),
    "linuxfr-fr-news-page.html": (None, None, None),
    "medium-en-post.html": (
        "https://d262ilb51hltx0.cloudfront.net/max/800/1*oBWUXtszDsiv_-Qq2bFLTQ.png",
        "summary_large_image",
        "https://medium.com/@pippinlee/",
    ),
    "mondediplo-fr-spip-blog-post.html": (
        "https://blog.mondediplo.net/IMG/arton1946.jpg",
        "summary_large_image",
        "https://blog.mondediplo.net/turpitude-et-architecture",
    ),
    "soundofscience-fr-wordpress-hypotheses-post.html": (
        "https://www.soundofscience.fr/wp-content/uploads/2020/01/lots-of-lego-minifigures.jpg",
        None,
        "https://www.soundofscience.fr/1927",
    ),
    "universfreebox-fr-meta-iso8859-1-actually-utf8.html": (None, None, None),
    "wordpress-wptavern-en-post.html": (
        "https://i0.wp.com/wptavern.com/wp-content/uploads/2016/07/stack-overflow.png?fit=1200%2C470&ssl=1",
        "summary_large_image",
        "https://wptavern.com/stack-overflow-jobs-data-shows",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_page_gives_its_image_card_and_canonical_url(name: str) -> None:
    meta = page(name)
    image, card, canonical = EXPECTED[name]
    for found, expected_prefix in ((meta.og_image, image), (meta.canonical_url, canonical)):
        assert found is None if expected_prefix is None else (found or "").startswith(expected_prefix), found
    assert meta.twitter_card == card


def test_pages_with_neither_card_nor_image_get_the_seo_warning() -> None:
    for name in ("framablog-fr-wordpress-post.html", "linuxfr-fr-news-page.html"):
        assert page(name).warnings == (NO_CARD_WARNING,)
    assert page("20minutes-fr-article-jsonld.html").warnings == ()


def test_first_non_empty_og_image_wins() -> None:
    assert page("laviedesidees-fr-spip-article.html").og_image == "https://laviedesidees.fr/IMG/arton813.jpg?1248213600"


def test_template_placeholders_are_ignored() -> None:
    meta = page("lanouvellerepublique-fr-angular-template-placeholder-og-image.html")
    assert meta.og_title is None  # og:title and <title> are both unrendered {{...}} templates
    assert any("placeholder" in w for w in meta.warnings)
    inline = parse_page_meta(
        '<meta property="og:image" content="{{ page.image }}"><meta property="og:image" content="/real.jpg">',
        url="https://b.example/post/",
    )
    assert inline.og_image == "https://b.example/real.jpg"
    assert any("unrendered template" in w for w in inline.warnings)


def test_text_is_decoded_whatever_the_declared_charset() -> None:
    assert page("universfreebox-fr-meta-iso8859-1-actually-utf8.html").og_title == (
        "Univers Freebox : Toute l'actualité de Free et des télécoms ..."
    )
    latin1 = page("alternatives-economiques-fr-2007-wayback-latin1-invalid-bytes.html")
    assert latin1.og_title == "Les Français travaillent-ils trop peu ?"
    assert (
        page("bondyblog-fr-article-tags.html").og_title
        == "A Paris-8, un peu de tension, beaucoup d'actions - Bondy Blog"
    )


def test_name_instead_of_property_and_twitter_image_fallback() -> None:
    meta = page("hugo-keithjgrant-en-post.html")
    assert meta.og_title == "Resilient, Declarative, Contextual"
    assert meta.og_image == "https://keithjgrant.com/images/2018/standout-citrus.jpg"  # from twitter:image


def test_relative_urls_resolve_against_base_href_and_page_url() -> None:
    markup = (
        '<html><head><base href="https://cdn.example/site/"><meta property="og:image" content="img/a.png">'
        '<link rel="Canonical" href="/fr/article"><meta property="og:image:alt" content="Une &eacute;cole">'
        '<meta name="twitter:card" content="summary_large_image"></head></html>'
    )
    meta = parse_page_meta(markup.encode(), url="https://blog.example/post/")
    assert meta.og_image == "https://cdn.example/site/img/a.png"
    assert meta.canonical_url == "https://cdn.example/fr/article"
    assert meta.og_image_alt == "Une école" and meta.warnings == ()


def test_query_strings_are_not_mangled_by_entity_decoding() -> None:
    markup = '<meta property="og:image" content="https://b.example/i.png?a=1&amp;not=2&amp;copy=3">'
    assert parse_page_meta(markup, url="https://b.example/").og_image == "https://b.example/i.png?a=1&not=2&copy=3"


def test_an_empty_page_has_the_warning_and_nothing_else() -> None:
    assert parse_page_meta(b"", url="https://b.example/") == PageMeta(warnings=(NO_CARD_WARNING,))


def test_a_huge_page_costs_little_because_only_the_head_is_parsed() -> None:
    head = '<html><head><meta property="og:image" content="/a.png"><title>Café</title></head><body>'
    huge = (head + "<a>" * 3_000_000 + "</body></html>").encode()
    started = time.perf_counter()
    meta = parse_page_meta(huge, url="https://b.example/post/")
    assert time.perf_counter() - started < 0.5
    assert (meta.og_image, meta.og_title) == ("https://b.example/a.png", "Café")


def test_a_utf8_character_cut_at_the_size_limit_does_not_break_decoding() -> None:
    padding = "<!-- " + "x" * (1024 * 1024 - 60) + " -->"
    page = ('<meta property="og:title" content="Été">' + padding + "é" * 50).encode()
    assert parse_page_meta(page, url="https://b.example/").og_title == "Été"
