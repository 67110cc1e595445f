"""Row 1: hostile text (megabyte titles without spaces) never makes composing slow.

Before: shortening was quadratic (a 40,000-character title took 2.9 s, 1 MB hours) and
twitter-text's URL regex backtracks on long words with dots (a 2,000-character ``é.``
word: 5 s per measurement). Every field is now capped where a ``Post`` is made, long
words are weighed by a safe bound, and the cleaning rules are linear.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from relay.core.compose import compose_tweet
from relay.core.length import MAX_WEIGHTED_LENGTH, weighted_length
from relay.core.models import MAX_TITLE_CHARS, Post
from tests.feed_server import FeedServer
from tests.processes import free_port, relay_env, start_relay, wait_for
from tests.security.bounded import run_bounded

MEGABYTE = 1024 * 1024
HOSTILE_UNITS = [
    "x", "é.", "a.", "ab.co-", "a.co", "(", "(a", "«", "[a]", "[caption", "<a ", "→ ", "M.", "&amp;", "😀",
    "a\u0301", "Read more ", "- ",
]  # fmt: skip
"""Shapes that each hit one quadratic spot of the old code (regex backtracking, repeated scans)."""
BOUND_SECONDS = 3.0
"""What one 1 MB compose may take here; measured at 0.2 s at most, the old code took minutes to hours."""


def _compose(field: str, unit: str) -> tuple[str, int]:
    hostile = unit * (MEGABYTE // len(unit))
    values = {"title": "Le pain", field: hostile} if field != "title" else {"title": hostile}
    post = Post(url="https://boulangerie.example/2026/11/pain-au-levain/", **values)
    tweet = compose_tweet(post, today=date(2026, 1, 1))
    return tweet.text, tweet.weighted_length


@pytest.mark.parametrize("field", ["title", "summary_html", "content_html", "author"])
@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_a_megabyte_field_without_spaces_composes_quickly(field: str, unit: str) -> None:
    (text, weight), _seconds = run_bounded(BOUND_SECONDS, _compose, field, unit)
    assert weight == weighted_length(text) <= MAX_WEIGHTED_LENGTH
    assert text.endswith("https://boulangerie.example/2026/11/pain-au-levain/?utm_source=twitter&utm_medium=social"
                         "&utm_campaign=pain-au-levain")


def test_fields_are_capped_where_a_post_is_made() -> None:
    post = Post(url="https://a.example/", title="t" * (MAX_TITLE_CHARS * 3), categories=("c" * 10_000,) * 500)
    assert len(post.title) == MAX_TITLE_CHARS
    assert len(post.categories) < 500 and all(len(c) < 10_000 for c in post.categories)


def _hostile_feed(title: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link>
<item><title>{title}</title><link>https://hostile.example/2026/11/entry/</link>
<guid>https://hostile.example/?p=1</guid><description>Short.</description></item>
</channel></rss>""".encode()


@pytest.mark.slow
def test_healthz_answers_within_a_second_while_a_hostile_feed_is_processed(tmp_path: Path) -> None:
    """The feed holds a 1 MB title without a space; /healthz is asked every 0.2 s until the post is composed."""
    port = free_port()
    with FeedServer() as feeds:
        feeds.set("/feed/", body=_hostile_feed("x" * MEGABYTE))
        config = tmp_path / "relay.toml"
        config.write_text(
            f'[polling]\npublish_interval_seconds = 0.2\nfetch_pages = false\n'
            f'[[feeds]]\nurl = "{feeds.url("/feed/")}"\nbackfill = 1\n',
            encoding="utf-8",
        )
        log = tmp_path / "serve.log"
        process = start_relay(["serve"], relay_env(RELAY_CONFIG=str(config), RELAY_SERVER_PORT=str(port)),
                              log, tmp_path)
        slow: list[str] = []
        stop = threading.Event()

        def ask_health() -> None:
            with httpx.Client(timeout=1.0) as client:
                while not stop.is_set():
                    try:
                        client.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
                    except httpx.HTTPError as exc:
                        if feeds.requests_for("/feed/"):  # refused connections before start-up do not count
                            slow.append(type(exc).__name__)
                    time.sleep(0.2)

        asker = threading.Thread(target=ask_health, daemon=True)
        asker.start()
        try:
            wait_for(lambda: "dry-run: would post" in log.read_text(encoding="utf-8"), timeout=90,
                     what="the hostile entry composed and posted (dry-run)")
            time.sleep(1.0)
        finally:
            stop.set()
            asker.join(5)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert feeds.requests_for("/feed/"), "relay never fetched the feed"
    assert not slow, f"/healthz did not answer within 1 s {len(slow)} time(s): {slow[:5]}"
    posted = re.findall(r"dry-run: would post.*", log.read_text(encoding="utf-8"))
    assert posted
