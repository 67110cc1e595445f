"""Properties of compose_tweet over arbitrary posts (hypothesis).

Whatever the title, summary, categories and URL: the tweet is one X accepts, it holds
the whole link, and no tag or entity from the input survives into the text.
"""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.core.compose import ComposeOptions, compose_tweet, tagged_link
from relay.core.length import find_urls, is_valid_tweet
from relay.core.models import Post

MARKUP = [
    "<b>",
    "</b>",
    "<p>",
    "</p>",
    "<br/>",
    "<em class='x'>",
    "</em>",
    '<a href="https://ex.fr/p">',
    "</a>",
    "<script>alert(1)</script>",
    "<figcaption>Légende</figcaption>",
    "<span>",
    "</span>",
    "<img src='a.jpg'>",
]
ENTITIES = [
    "&amp;",
    "&eacute;",
    "&rsquo;",
    "&nbsp;",
    "&hellip;",
    "&#8217;",
    "&#x2014;",
    "&lt;b&gt;",
    "&amp;eacute;",
    "&amp;#8230;",
    "&quot;",
    "&laquo;",
    "&raquo;",
]
WORDS = [
    "Salle",
    "de",
    "bain",
    "rénovation",
    "à",
    "l’italienne",
    "«",
    "»",
    "\u00a0:",
    "\u202f!",
    "?",
    ".",
    ",",
    "…",
    "[…]",
    "[...]",
    "#",
    "@",
    "–",
    "(",
    ")",
    "😷",
    "👨\u200d👩\u200d👧",
    "🇫🇷",
    "e\u0301",
    "日本",
    "README.md",
    "https://www.exemple.fr/chemin/très/long/vers/une/page",
    "Lire la suite",
    "\n",
    "\n\n",
    "\ufeff",
    "\u200b",
    "Anticonstitutionnellement" * 3,
]
PIECES = st.one_of(st.sampled_from(WORDS), st.sampled_from(MARKUP), st.sampled_from(ENTITIES), st.text(max_size=12))
TEXTS = st.lists(PIECES, max_size=80).map(" ".join) | st.lists(PIECES, max_size=15).map("".join)

LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
URLS = st.builds(
    lambda host, tld, path, query, fragment: f"https://{host}.{tld}/{path}{query}{fragment}",
    st.lists(LABEL, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["fr", "com", "be", "net", "co.uk"]),
    st.lists(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,30}", fullmatch=True), max_size=8).map("/".join),
    st.sampled_from(["", "?p=12", "?a=1&b=%C3%A9", "?utm_source=newsletter"]),
    st.sampled_from(["", "#commentaires", "#h-2"]),
)
TEMPLATES = st.sampled_from(
    [
        "{title}\n\n{summary}\n\n{hashtags} {link}",
        "{title} {link}",
        "{summary}\n{link}\n{hashtags}",
        "{title} — {author} ({site})\n{summary}\n{hashtags}\n{link}",
        "Nouveau : {title} {hashtags} {link}",
    ]
)
INPUT_MARKS = [*MARKUP, *ENTITIES, "&lt;", "&gt;"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=TEXTS,
    summary=TEXTS,
    content=TEXTS,
    categories=st.lists(TEXTS, max_size=6),
    url=URLS,
    template=TEMPLATES,
    author=TEXTS,
)
def test_any_post_gives_a_valid_tweet_with_the_whole_link_and_no_markup(
    title: str, summary: str, content: str, categories: list[str], url: str, template: str, author: str
) -> None:
    post = Post(
        url=url,
        title=title,
        summary_html=summary,
        content_html=content,
        categories=tuple(categories),
        author=author,
        site="Plomberie Dupont",
    )
    options = ComposeOptions(template=template)
    tweet = compose_tweet(post, options, today=date(2024, 5, 2))

    assert is_valid_tweet(tweet.text)
    assert tweet.link == tagged_link(post, options, today=date(2024, 5, 2))
    assert tweet.link.startswith(url.split("#")[0].split("?")[0])
    assert tweet.text.count(tweet.link) == 1
    assert tweet.link in [found.url for found in find_urls(tweet.text)]  # X links all of it, tags included
    prose = tweet.text.replace(tweet.link, "")
    for mark in INPUT_MARKS:
        if mark in title + summary + content + author + "".join(categories):
            assert mark not in prose, (mark, tweet.text)
    assert "  " not in prose and "\n\n\n" not in prose


@settings(max_examples=100, deadline=None)
@given(title=TEXTS, url=URLS, override=st.sampled_from(["https://relay.example/r/Ab3xZ", "https://t.co/abc"]))
def test_a_short_link_is_kept_as_it_is(title: str, url: str, override: str) -> None:
    tweet = compose_tweet(Post(url=url, title=title), ComposeOptions(link_override=override), today=date(2024, 5, 2))
    assert tweet.link == override and override in tweet.text and is_valid_tweet(tweet.text)
