"""Feed HTML to tweet text: each cleaning rule, with what French feeds actually send."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import pytest

from relay.core.models import Post
from relay.core.summary import clean_text, clean_title, summary_for, without_repeated_title

FEEDS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # pcinpact: escaped HTML with named entities, as feedparser hands it over
        (
            "Le 4 mars, la Direction centrale du renseignement int&eacute;rieur a r&eacute;clam&eacute; "
            "d&rsquo;urgence la suppression d&rsquo;une entr&eacute;e",
            "Le 4 mars, la Direction centrale du renseignement intérieur a réclamé d’urgence "
            "la suppression d’une entrée",
        ),
        ("Un &amp;eacute;t&amp;eacute; &amp;#8217; &amp;amp;amp; fin", "Un été ’ & fin"),  # escaped twice
        ("C&#8217;est pour cela &#x2014; et &hellip;", "C’est pour cela — et …"),
        ("&lt;p&gt;Bonjour &lt;b&gt;tout&lt;/b&gt; le monde&lt;/p&gt;", "Bonjour tout le monde"),
        ("a &lt; b et 3 &gt; 2, je t&rsquo;aime &lt;3", "a < b et 3 > 2, je t’aime <3"),
    ],
)
def test_entities_are_decoded_however_deeply_escaped(html: str, expected: str) -> None:
    assert clean_text(html) == expected


def test_scripts_styles_frames_and_captions_are_dropped() -> None:
    html = (
        "<figure><img src='a.jpg'><figcaption>Salle intérieure de l'hôtel Mercy d’Argenteau</figcaption></figure>"
        "<p>Le corps du texte.</p><script>alert('x')</script><style>p{color:red}</style>"
        "<iframe src='https://www.youtube.com/embed/x'></iframe><noscript>Activez JavaScript</noscript>"
    )
    assert clean_text(html) == "Le corps du texte."


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '[caption id="attachment_12" align="alignleft" width="300"]<img src="sdb.jpg"> '
            "Une salle de bain rénovée[/caption]Nous avons rénové cette salle de bain.",
            "Nous avons rénové cette salle de bain.",
        ),
        ('Avant [gallery ids="1,2,3"] après', "Avant après"),
        ("Un [b]mot[/b] en gras", "Un mot en gras"),
        ('[contact-form-7 id="12" title="Devis"] Demandez un devis.', "Demandez un devis."),
        # bracketed prose is not a shortcode
        ("[Vidéo] Notre chantier [mise à jour]", "[Vidéo] Notre chantier [mise à jour]"),
    ],
)
def test_shortcodes_are_removed_and_prose_in_brackets_kept(html: str, expected: str) -> None:
    assert clean_text(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            "Nos conseils pour isoler vos combles avant l’hiver [&hellip;]",
            "Nos conseils pour isoler vos combles avant l’hiver",
        ),
        ("Nos conseils pour isoler [...]", "Nos conseils pour isoler"),
        ("La suite au prochain épisode (...)", "La suite au prochain épisode"),
        ('Du texte. <a class="more-link" href="/p">Lire la suite</a>', "Du texte."),
        ("Du texte. Lire la suite »", "Du texte."),
        ("Du texte. Continuer la lecture de « Isoler ses combles »", "Du texte."),
        ('Great news. <a href="/p">Continue reading...</a>', "Great news."),
        ("Great news. Read more ›", "Great news."),
        ("Quelques mots (more…)", "Quelques mots"),
        (
            "<p>Q4 was another exciting quarter [&#8230;]</p>\n<p>The post "
            '<a href="https://rss.com/blog/q4/">Q4 2022 RSS.com Product Updates</a> appeared first on '
            '<a href="https://rss.com/blog">RSS.com</a>.</p>',
            "Q4 was another exciting quarter",
        ),
        (
            "<p>Notre chantier à Nantes.</p><p>L’article <a>Douche à l’italienne</a> est apparu en premier "
            "sur <a>Plomberie Dupont</a>.</p>",
            "Notre chantier à Nantes.",
        ),
    ],
)
def test_read_more_links_and_footers_are_removed(html: str, expected: str) -> None:
    assert clean_text(html) == expected


def test_elision_inside_a_quotation_keeps_its_ellipsis_without_brackets() -> None:
    # aoc-media: "[…]" marks words left out of a quotation; it is not a "read more"
    html = "des «&nbsp;finan­ce­ments récur­rents […] en rup­ture avec [...] des appels à projets&nbsp;»"
    assert clean_text(html) == "des «\u00a0financements récurrents … en rupture avec … des appels à projets\u00a0»"
    # pxlnv, rue89: "[…]" alone between quoted paragraphs
    html = "<blockquote><p>Je suis un fouineur…</p><p>[…]</p><p>Alors forcément, je fouine.</p></blockquote>"
    assert clean_text(html) == "Je suis un fouineur…\nAlors forcément, je fouine."


def test_french_typography_is_kept_and_invisible_characters_go() -> None:
    text = clean_text("Pause\u202f: «\u202fBonjour\u202f»\u00a0! \ufeffa\u200bb\x07c\u00add\ufffee\uffff")
    assert text == "Pause\u00a0: «\u00a0Bonjour\u00a0»\u00a0! abcde"


def test_whitespace_collapses_and_paragraphs_become_lines() -> None:
    html = "<p>Chapeau sans point final</p>\n\n<p>Deuxième\n\t  paragraphe,   sur\nplusieurs lignes.</p>"
    assert clean_text(html) == "Chapeau sans point final\nDeuxième paragraphe, sur plusieurs lignes."
    assert clean_text("Texte brut.\n\nAutre paragraphe.\nMême paragraphe.") == (
        "Texte brut.\nAutre paragraphe. Même paragraphe."
    )


def test_mojibake_is_repaired_only_when_the_whole_text_is_mojibake() -> None:
    assert clean_text("Thereâ€™s nothing wrong with Ã©tÃ©") == "There’s nothing wrong with été"
    assert clean_text("SÃO PAULO et été") == "SÃO PAULO et été"


def test_titles_are_decoded_but_keep_their_words() -> None:
    assert clean_title("Masters en Psycho&nbsp;: une simplification&amp;#8230; tr&egrave;s complexe") == (
        "Masters en Psycho\u00a0: une simplification… très complexe"
    )
    assert clean_title("Lire la suite de la saga") == "Lire la suite de la saga"
    assert clean_title("  Deux\n lignes  ") == "Deux lignes"


def test_summary_sources_in_order() -> None:
    post = Post(url="https://ex.fr/p", excerpt_html="Extrait.", summary_html="Description.", content_html="Contenu.")
    assert summary_for(post) == "Extrait."
    assert summary_for(Post(url="https://ex.fr/p", summary_html="Description.", content_html="Contenu.")) == (
        "Description."
    )
    assert summary_for(Post(url="https://ex.fr/p", summary_html="  ", content_html="<p>Contenu.</p>")) == "Contenu."
    assert summary_for(Post(url="https://ex.fr/p")) == ""


def test_a_summary_repeating_the_title_gives_way_to_the_next_source() -> None:
    post = Post(
        url="https://ex.fr/p",
        title="Les mensonges des DSL",
        summary_html="Les mensonges des DSL",
        content_html="<h1>Les mensonges des DSL</h1><p>Un DSL est un langage dédié.</p>",
    )
    assert summary_for(post) == "Un DSL est un langage dédié."


def test_repeated_title() -> None:
    assert without_repeated_title("Les mensonges des DSL : un DSL est dédié.", "Les mensonges des DSL") == (
        "un DSL est dédié."
    )
    assert without_repeated_title("Les mensonges", "Les mensonges des DSL") == ""
    assert without_repeated_title("LES MENSONGES DES DSL !", "Les mensonges des DSL") == ""
    assert without_repeated_title("Un DSL est dédié.", "Les mensonges des DSL") == "Un DSL est dédié."


def test_long_content_is_limited_at_a_sentence() -> None:
    content = "<p>" + " ".join(f"Phrase numéro {n} du contenu." for n in range(200)) + "</p>"
    summary = summary_for(Post(url="https://ex.fr/p", content_html=content))
    assert 500 < len(summary) <= 1000
    assert summary.endswith("du contenu.")


_LEFTOVER = re.compile(
    r"</?[a-z][a-z0-9]*[\s>/]|&(?:[a-z]+|#\d+|#x[0-9a-f]+);|appeared first on|est apparu en premier"
    r"|continue reading|lire la suite|\[/?caption|\[(?:…|\.\.\.)\]$|[\ufeff\ufffe\uffff\u00ad]",
    re.IGNORECASE,
)


def test_every_corpus_entry_cleans_to_plain_text() -> None:
    if not FEEDS.exists():
        pytest.skip(f"corpus not found at {FEEDS}")
    checked = 0
    for path in sorted(FEEDS.iterdir()):
        for entry in feedparser.parse(str(path)).entries:
            for html in [entry.get("summary", "")] + [part.value for part in entry.get("content", [])]:
                text = clean_text(html)
                assert not _LEFTOVER.search(text), (path.name, _LEFTOVER.search(text), text[:300])
                assert "  " not in text and "\n\n" not in text, (path.name, text[:300])
                checked += 1
    print(f"cleaned {checked} corpus summaries and contents")
    assert checked > 500


@pytest.mark.parametrize(
    ("summary", "title", "expected"),
    [
        # the title is the subject of the first sentence: start at the next one
        ("No More Room in Hell est un jeu de survival horror. jouable à 8. Le jeu est gratuit.",
         "No More Room in Hell", "Le jeu est gratuit."),
        ("Beauty versus the World. A short essay on taste.", "Beauty", "A short essay on taste."),
        # only one sentence: kept whole rather than broken
        ("Hugo Miguel é o árbitro escolhido para esta quarta-feira à noite.", "Hugo Miguel",
         "Hugo Miguel é o árbitro escolhido para esta quarta-feira à noite."),
        ("Le pain « au levain » est bon", "Le pain", "Le pain « au levain » est bon"),
        # the title stood apart, or what follows opens like a sentence: the echo goes
        ("No More Room in Hell\nUn jeu de survie.", "No More Room in Hell", "Un jeu de survie."),
        ("No More Room in Hell — un jeu de survie.", "No More Room in Hell", "un jeu de survie."),
        ("No More Room in Hell Un jeu de survie.", "No More Room in Hell", "Un jeu de survie."),
        ("Le pain « Au levain », enfin.", "Le pain", "« Au levain », enfin."),
    ],
)
def test_the_title_echo_goes_only_when_what_remains_reads_as_a_sentence(
    summary: str, title: str, expected: str
) -> None:
    assert without_repeated_title(summary, title) == expected
