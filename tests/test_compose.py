"""Composing tweets: each rule of relay.core.compose, on French small-business posts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import feedparser
import pytest
from twitter_text import parse_tweet

from relay.core.compose import (
    DEFAULT_TEMPLATE,
    MIN_SUMMARY_WEIGHT,
    PLACEHOLDERS,
    ComposeOptions,
    compose_tweet,
    shorten,
    tagged_link,
    validate_template,
)
from relay.core.length import is_valid_tweet, weighted_length
from relay.core.models import Post, Tweet

TODAY = date(2024, 5, 2)
FEEDS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
URL = "https://www.plomberie-dupont.fr/blog/douche-italienne-nantes/"
TITLE = "Salle de bain : notre chantier « douche à l’italienne » à Nantes"
SUMMARY = (
    "Vous rêvez d’une douche à l’italienne\u00a0? Voici comment nous avons transformé une salle de bain "
    "des années 80 en un espace lumineux et facile à vivre. Carrelage grand format, niche murale, "
    "mitigeur thermostatique\u00a0: chaque choix compte. Nous détaillons les étapes, les délais et le "
    "budget, poste par poste, pour que vous puissiez préparer votre propre projet sereinement."
)
CATEGORIES = ("Salle de bain", "Rénovation", "Non classé", "Économies d'énergie")


def post(**changes: object) -> Post:
    fields: dict[str, object] = {"url": URL, "title": TITLE, "summary_html": f"<p>{SUMMARY}</p>"}
    fields.update(changes)
    return Post(**fields)  # type: ignore[arg-type]


def compose(p: Post, **options: object) -> Tweet:
    tweet = compose_tweet(p, ComposeOptions(**options), today=TODAY)  # type: ignore[arg-type]
    assert is_valid_tweet(tweet.text)
    assert tweet.link in tweet.text
    assert tweet.weighted_length == weighted_length(tweet.text)
    return tweet


def lines(tweet: Tweet) -> list[str]:
    return tweet.text.split("\n")


def test_a_short_post_is_posted_whole_with_the_default_template() -> None:
    tweet = compose(post(summary_html="<p>Un chantier de trois jours.</p>", categories=CATEGORIES))
    link = tweet.link
    assert tweet.text == (
        f"{TITLE}\n\nUn chantier de trois jours.\n\n#SalleDeBain #Rénovation #ÉconomiesÉnergie {link}"
    )
    assert DEFAULT_TEMPLATE == "{title}\n\n{summary}\n\n{hashtags} {link}"


def test_the_summary_shrinks_first_with_one_ellipsis() -> None:
    tweet = compose(post(categories=CATEGORIES))
    title, blank, summary, blank2, tags_and_link = lines(tweet)
    assert title == TITLE and blank == blank2 == ""
    assert tags_and_link.startswith("#SalleDeBain #Rénovation #ÉconomiesÉnergie https://")
    assert summary.endswith("…") and not summary.endswith(("……", "...…", " …"))
    assert SUMMARY.startswith(summary[:-1])
    assert tweet.weighted_length > 260  # the room is used, not given away


def test_a_sentence_end_is_preferred_when_it_keeps_most_of_the_room() -> None:
    tweet = compose(post(), template="{title} {summary} {link}")
    summary = tweet.text[len(TITLE) + 1 : -len(tweet.link) - 1]
    assert summary == SUMMARY[: SUMMARY.index("vivre.") + len("vivre.")]  # not "… chaque choix…"


def test_a_word_cut_wins_when_the_sentence_end_is_far_back() -> None:
    fits = lambda text: weighted_length(text) <= 40  # noqa: E731
    assert shorten("Une douche\u00a0? Voici comment nous avons fait ce chantier.", fits) == (
        "Une douche\u00a0? Voici comment nous avons…"
    )
    assert shorten("Un chantier rapide et propre. Voici comment nous avons fait.", fits) == (
        "Un chantier rapide et propre."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Carrelage, niche murale, mitigeur thermostatique", "Carrelage, niche…"),
        ("Notre devis : carrelage et pose compris", "Notre devis…"),
        ("Voir « la maison de mes rêves » et plus", "Voir…"),
        ("Il a dit (voir plus bas) que tout irait bien", "Il a dit…"),
        ("Nos tarifs # pour cette saison chaude", "Nos tarifs…"),
        ("Plombier à Nantes – devis gratuit partout", "Plombier à Nantes…"),
        ("Pourquoi rénover ? Parce que le monde change", "Pourquoi rénover ?"),
        ("Nous avons rencontré M. Dupont et Mme. Durand hier", "Nous avons rencontré…"),
        ("A letter published by Sen. Smith and Dr. Jones today", "A letter published by…"),
    ],
)
def test_cuts_leave_nothing_dangling(text: str, expected: str) -> None:
    budget = {
        "Carrelage, niche murale, mitigeur thermostatique": 22,
        "Notre devis : carrelage et pose compris": 20,
        "Voir « la maison de mes rêves » et plus": 25,
        "Il a dit (voir plus bas) que tout irait bien": 20,
        "Nos tarifs # pour cette saison chaude": 15,
        "Plombier à Nantes – devis gratuit partout": 22,
        "Pourquoi rénover ? Parce que le monde change": 22,
        "Nous avons rencontré M. Dupont et Mme. Durand hier": 25,
        "A letter published by Sen. Smith and Dr. Jones today": 28,
    }[text]
    assert shorten(text, lambda candidate: weighted_length(candidate) <= budget) == expected


def test_no_cut_inside_a_url_in_the_summary() -> None:
    catalogue = "https://www.plomberie-dupont.fr/catalogue/robinetterie-2024"
    summary = f"Retrouvez le catalogue complet sur {catalogue} et en magasin. " * 4
    tweet = compose(post(summary_html=summary), template="{title} {summary} {link}")
    urls = [word.rstrip("…") for word in tweet.text.split() if "dupont.fr/catalogue" in word]
    assert urls and set(urls) == {catalogue}


def test_no_cut_inside_an_emoji_sequence() -> None:
    family = "👨\u200d👩\u200d👧"
    tweet = compose(post(title=family * 200, summary_html=""))
    title = lines(tweet)[0]
    assert title.endswith("…")
    assert title[:-1] == family * (len(title[:-1]) // len(family))


def test_summary_is_dropped_before_the_title_is_cut() -> None:
    title = "Rénovation complète d’une salle de bain de 6 m² à Rezé : " + "étapes, délais, budget, " * 8 + "fin"
    tweet = compose(post(title=title))
    assert lines(tweet)[0] == title
    assert SUMMARY[:20] not in tweet.text


def test_a_summary_too_short_to_say_anything_is_dropped() -> None:
    title = "Chantier " + "très " * 44 + "long"
    tweet = compose(post(title=title), template="{title}\n{summary}\n{link}")
    assert lines(tweet) == [title, tweet.link]
    assert MIN_SUMMARY_WEIGHT >= 20


def test_hashtags_are_dropped_from_the_end_before_the_title_is_cut() -> None:
    title = "Chantier " + "très " * 45 + "long"
    tweet = compose(post(title=title, summary_html="", categories=CATEGORIES))
    assert lines(tweet)[0] == title
    assert lines(tweet)[-1] == f"#SalleDeBain {tweet.link}"


def test_the_title_is_cut_last_at_a_word_and_the_link_is_whole() -> None:
    title = "Chantier " + "très " * 80 + "long"
    tweet = compose(post(title=title, categories=CATEGORIES))
    first, blank, last = lines(tweet)
    assert blank == "" and last == tweet.link
    assert first.endswith("très…") and title.startswith(first[:-1])
    assert tweet.weighted_length >= 275


def test_a_single_huge_word_is_cut_between_characters() -> None:
    tweet = compose(post(title="Anticonstitutionnellement" * 20, summary_html=""))
    assert lines(tweet)[0].endswith("…")
    assert tweet.weighted_length == 280


def test_site_and_author_go_before_the_title_is_cut() -> None:
    title = "Chantier " + "très " * 45 + "long"
    tweet = compose(
        post(title=title, author="Jean Dupont", site="Plomberie Dupont"), template="{title} — {author}, {site} {link}"
    )
    assert tweet.text == f"{title} — Jean Dupont {tweet.link}"


def test_empty_placeholders_leave_no_blank_line_or_double_space() -> None:
    bare = post(summary_html="", categories=())
    assert compose(bare).text == f"{TITLE}\n\n{compose(bare).link}"
    tweet = compose(
        post(summary_html="<p>Court résumé.</p>"), template="{title} par {author}\n\n{summary}\n\n{hashtags} {link}"
    )
    assert tweet.text == f"{TITLE}\n\nCourt résumé.\n\n{tweet.link}"
    tweet = compose(post(summary_html=""), template="Nouveau : {title}\n{summary}\n{link}")
    assert tweet.text == f"Nouveau : {TITLE}\n{tweet.link}"
    for text in (compose(bare).text, tweet.text):
        assert "  " not in text and "\n\n\n" not in text and not text.startswith(("\n", " "))


def test_a_post_without_title_is_announced_by_its_summary() -> None:
    # manton's WordPress micro-posts have no title
    tweet = compose(post(title="", summary_html="I probably shouldn&#8217;t have started installing watchOS 2.0."))
    assert tweet.text == f"I probably shouldn’t have started installing watchOS 2.0.\n\n{tweet.link}"


def test_a_summary_repeating_the_title_is_dropped() -> None:
    tweet = compose(post(title="Les mensonges des DSL", summary_html="Les mensonges des DSL"))
    assert tweet.text == f"Les mensonges des DSL\n\n{tweet.link}"


def test_hashtag_options() -> None:
    p = post(summary_html="", categories=CATEGORIES)
    assert "#" not in compose(p, hashtags=False).text
    assert compose(p, max_hashtags=1).text.endswith(f"\n#SalleDeBain {compose(p, max_hashtags=1).link}")
    tweet = compose(p, hashtag_deny=frozenset({"#salledebain"}))
    assert "#SalleDeBain" not in tweet.text and "#Rénovation" in tweet.text


def test_tagged_link_campaign_placeholders() -> None:
    p = post(categories=("Non classé", "Salle de bain"), published_at=datetime(2024, 4, 30, 8, tzinfo=UTC))
    options = ComposeOptions(utm_campaign="{category}-{date}", utm_content="{slug}")
    assert tagged_link(p, options, today=TODAY) == (
        f"{URL}?utm_source=twitter&utm_medium=social&utm_campaign=salle-de-bain-2024-04-30"
        "&utm_content=douche-italienne-nantes"
    )
    undated = post(published_at=None)
    assert "utm_campaign=2024-05-02" in tagged_link(undated, ComposeOptions(utm_campaign="{date}"), today=TODAY)


def test_link_override_is_used_as_it_is() -> None:
    tweet = compose(post(), link_override="https://relay.example/r/Ab3xZ")
    assert tweet.link == "https://relay.example/r/Ab3xZ"
    assert tweet.text.endswith(" https://relay.example/r/Ab3xZ") or tweet.text.endswith(
        "\nhttps://relay.example/r/Ab3xZ"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{title} {lien}", r"unknown placeholder \{lien\}; valid placeholders are \{author\}, \{hashtags\}, \{link\}"),
        ("{title}\n{summary}", r"must contain \{link\}"),
        ("{title} {link} {link}", r"\{link\} more than once"),
        ("{title!r} {link}", "without a format spec or conversion"),
        ("{title:>30} {link}", "without a format spec or conversion"),
        ("{} {link}", r"unknown placeholder \{\}"),
        ("{title {link}", "malformed"),
        ("x" * 260 + " {link}", "weighs 284"),
    ],
)
def test_bad_templates_are_refused_with_a_useful_message(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_template(template)
    with pytest.raises(ValueError, match=message):
        ComposeOptions(template=template)


def test_good_templates_and_utm_templates() -> None:
    for name in PLACEHOLDERS:
        validate_template(f"{{{name}}} {{link}}" if name != "link" else "{link}")
    validate_template("Nouveau sur le blog {{officiel}} : {title} {link}")
    with pytest.raises(ValueError, match=r"unknown placeholder \{titre\}"):
        ComposeOptions(utm_campaign="{titre}")
    with pytest.raises(ValueError, match="max_hashtags"):
        ComposeOptions(max_hashtags=-1)


def _corpus_posts() -> list[Post]:
    if not FEEDS.exists():
        pytest.skip(f"corpus not found at {FEEDS}")
    posts = []
    for path in sorted(FEEDS.iterdir()):
        for entry in feedparser.parse(str(path)).entries:
            posts.append(
                Post(
                    url=entry.get("link") or "https://example.com/",
                    title=entry.get("title", ""),
                    summary_html=entry.get("summary", ""),
                    content_html=entry.content[0].value if entry.get("content") else "",
                    categories=tuple(tag.term for tag in entry.get("tags", []) if tag.get("term")),
                )
            )
    return posts


def test_every_corpus_post_composes_to_a_valid_tweet() -> None:
    posts = _corpus_posts()
    for p in posts:
        tweet = compose_tweet(p, today=TODAY)
        assert is_valid_tweet(tweet.text) and tweet.link in tweet.text, tweet.text
        assert tweet.weighted_length == parse_tweet(tweet.text).weightedLength  # the library's own count
        assert not re.search(r"</?[a-z]+[\s>]|&[a-z]+;|&#\d+;", tweet.text.replace(tweet.link, "")), tweet.text
        assert "  " not in tweet.text and "\n\n\n" not in tweet.text and "……" not in tweet.text
    print(f"composed {len(posts)} corpus posts")
    assert len(posts) > 600
