"""`relay preview --check`: each tweet's defects by class, and a non-zero exit when there is any."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import relay.cli.preview as preview_module
from relay.cli.main import cli
from relay.core.models import Post
from relay.core.quality import tweet_defects
from tests.conftest import SHARED

LINK = "https://blog.example/le-pain/?utm_source=twitter&utm_medium=social&utm_campaign=le-pain"
POST = Post(url="https://blog.example/le-pain/", title="Le pain", summary_html="<p>Une recette simple.</p>")


@pytest.mark.parametrize(
    ("text", "link", "post", "kind"),
    [
        (f"Le pain\n\nSi vous ne savez pas câ€™est simple.\n\n{LINK}", LINK, POST, "mojibake"),
        (f"Le pain\n\nThe post Le pain appeared first on Cuisine.\n\n{LINK}", LINK, POST, "boilerplate"),
        (f"Le pain\n\nArticles en rapport\n\n{LINK}", LINK, POST, "boilerplate"),
        (f"Protected: Le pain\n\n{LINK}", LINK,
         Post(url=POST.url, title="Protected: Le pain",
              summary_html="There is no excerpt because this is a protected post."),
         "protected"),
        (f"No More Room in Hell\n\nest un jeu de survie.\n\n{LINK}", LINK,
         Post(url=POST.url, title="No More Room in Hell", summary_html="No More Room in Hell est un jeu de survie."),
         "broken_first_sentence"),
        (f"Le pain\n\nPendant dix minutes, les…\n\n{LINK}", LINK, POST, "function_word_cut"),
        (f"Le pain\n\n#ÉconomiesDÉnergie #WomenSSuffrage {LINK}", LINK, POST, "elision_hashtag"),
        ("Le pain https://blog.example/le-pain/?utm_source=rss&utm_medium=rss",
         "https://blog.example/le-pain/?utm_source=rss&utm_medium=rss", POST, "foreign_utm"),
        (f"Le pain\n\nLisez le README.md\n\n{LINK}", LINK, POST, "autolink"),
    ],
)
def test_each_class_is_found(text: str, link: str, post: Post, kind: str) -> None:
    kinds = {defect.kind for defect in tweet_defects(post, text, link)}
    assert kind in kinds, kinds
    assert kinds <= {kind}, f"only {kind} is wrong in this tweet: {kinds}"


def test_a_good_tweet_has_no_defect() -> None:
    text = f"Le pain\n\nUne recette simple, pour les débutants comme pour les autres.\n\n#Cuisine {LINK}"
    assert tweet_defects(POST, text, LINK) == []


def test_the_feeds_utm_kept_on_purpose_is_not_a_defect() -> None:
    link = "https://blog.example/le-pain/?utm_source=rss"
    assert tweet_defects(POST, f"Le pain {link}", link, keep_feed_utm=True) == []


def feed_file(tmp_path: Path) -> Path:
    path = tmp_path / "feed.xml"
    path.write_text(
        """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cuisine</title>
<link>https://blog.example/</link>
<item><title>Le pain</title><link>https://blog.example/le-pain/</link><guid>1</guid>
<description>&lt;p&gt;Une recette simple, avec le README.md du four.&lt;/p&gt;</description></item>
<item><title>Protected: Le levain</title><link>https://blog.example/levain/</link><guid>2</guid>
<description>There is no excerpt because this is a protected post.</description></item>
</channel></rss>""",
        encoding="utf-8",
    )
    return path


def test_check_lists_warnings_and_exits_0_when_only_warnings(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["preview", "--check", str(feed_file(tmp_path))], obj={}, env={})
    assert result.exit_code == 0, result.output
    assert "warning: autolink: README.md" in result.stdout
    assert "1 tweets checked" in result.stderr and "autolink 1" in result.stderr


def test_check_exits_1_and_names_the_class_when_a_tweet_has_a_defect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    composed = preview_module.compose_tweet

    def with_mojibake(post: Post, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        tweet = composed(post, *args, **kwargs)  # type: ignore[arg-type]
        return type(tweet)(text=tweet.text.replace("simple", "donâ€™t"), link=tweet.link,
                           weighted_length=tweet.weighted_length)

    monkeypatch.setattr(preview_module, "compose_tweet", with_mojibake)
    result = CliRunner().invoke(cli, ["preview", "--check", "--json", str(feed_file(tmp_path))], obj={}, env={})
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["class"] for row in rows} == {"mojibake", "autolink"}
    assert "mojibake 1" in result.stderr


FEEDS = sorted(f for f in (SHARED / "corpus" / "feeds").glob("*") if f.suffix != ".md")


def test_every_corpus_feed_passes_the_check() -> None:
    if not FEEDS:
        pytest.skip(f"{SHARED / 'corpus' / 'feeds'} is absent: clone the project with ../shared beside it")
    failing = {}
    for feed in FEEDS:
        result = CliRunner().invoke(cli, ["preview", "--check", str(feed), "--base-url", "https://blog.example/"],
                                    obj={}, env={})
        if result.exit_code != 0:
            failing[feed.name] = result.stdout[-300:]
    assert len(FEEDS) == 33
    assert not failing, failing
