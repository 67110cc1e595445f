"""`relay preview --json` on every real feed of ../shared/corpus: one valid tweet per entry with a link.

A feed file whose links are all relative cannot be previewed without the blog's address:
preview says so and exits 1, then works with ``--base-url``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.adapters.feed_parser import parse_feed
from relay.cli.main import cli
from relay.core.length import is_valid_tweet, weighted_length
from tests.conftest import SHARED

FEEDS = sorted((SHARED / "corpus" / "feeds").glob("*")) if (SHARED / "corpus" / "feeds").exists() else []
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]{1,31});")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
RESULTS: dict[str, tuple[int, int, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def print_table() -> object:
    yield
    if RESULTS:
        print("\ncorpus preview: feed | entries with a link | tweets | max weighted length")
        for name, (entries, tweets, longest) in sorted(RESULTS.items()):
            print(f"  {name:70} {entries:4} {tweets:4} {longest:4}")


def test_the_corpus_is_there() -> None:
    if not FEEDS:
        pytest.skip(f"{SHARED / 'corpus'} is absent: clone the project with ../shared beside it")
    assert len(FEEDS) == 33


@pytest.mark.parametrize("feed", FEEDS, ids=[f.name for f in FEEDS])
def test_preview_gives_one_clean_valid_tweet_per_entry(feed: Path) -> None:
    base: list[str] = []
    expected = [p for p in parse_feed(feed.read_bytes(), url=feed.resolve().as_uri()).posts if p.url]
    result = CliRunner().invoke(cli, ["preview", str(feed), "--json"], obj={}, env={}, catch_exceptions=False)
    if not expected:
        assert result.exit_code == 1 and "--base-url" in result.stderr, (result.exit_code, result.stderr)
        base = ["--base-url", "https://blog.example/"]
        expected = [p for p in parse_feed(feed.read_bytes(), url="https://blog.example/").posts if p.url]
        result = CliRunner().invoke(cli, ["preview", str(feed), "--json", *base], obj={}, env={},
                                    catch_exceptions=False)
        assert expected, "with the blog's address, relative links resolve"
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(expected)
    protected = sum("password-protected" in row.get("why", "") for row in rows)
    assert sum(row["post"] for row in rows) + protected == len({row["url"] for row in rows}), "each link posted once"
    for row in rows:
        if not row["post"]:
            assert "relay posts it once" in row["why"] or "password-protected" in row["why"], row["why"]
            continue
        text = row["text"]
        assert is_valid_tweet(text), text
        assert row["weighted_length"] == weighted_length(text) <= 280
        assert row["link"] in text
        assert not TAG.search(text.replace(row["link"], "")), text
        assert not ENTITY.search(text), text
        assert "[…]" not in text and "[...]" not in text, text
        assert html.unescape(text) == text or "&" in row["url"], text
    RESULTS[feed.name] = (len(expected), len(rows), max((r["weighted_length"] for r in rows if r["post"]), default=0))
