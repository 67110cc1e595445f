"""Row 13: a JSON Feed is capped like an XML one; its newest items are the ones read.

Before: 100,000 items took 22.8 s and recorded 100,000 rows in one poll.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from relay.adapters.feed_parser import parse_feed
from tests.security.bounded import run_bounded

START = datetime(2020, 1, 1, tzinfo=UTC)


def _items(count: int) -> list[dict[str, str]]:
    return [
        {"id": str(n), "url": f"https://blog.example/{n}/", "title": f"Billet {n}",
         "date_published": (START + timedelta(minutes=n)).isoformat()}
        for n in range(count)
    ]


def _parse(body: bytes) -> tuple[int, list[str], list[str]]:
    document = parse_feed(body, url="https://blog.example/feed.json", headers={"content-type": "application/json"})
    return len(document.posts), [post.url for post in document.posts], list(document.warnings)


def test_a_feed_of_100000_items_is_read_quickly_and_capped_to_its_newest() -> None:
    items = _items(100_000)
    items.insert(0, items.pop(50_000))  # order must not matter: the newest are read
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "B", "items": items}).encode()
    (count, urls, warnings), _seconds = run_bounded(10.0, _parse, body)
    assert 0 < count <= 1_000
    assert "https://blog.example/99999/" in urls and "https://blog.example/0/" not in urls
    assert any("newest" in warning for warning in warnings)


def test_a_small_feed_is_read_whole() -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": _items(30)}).encode()
    count, _urls, warnings = _parse(body)
    assert count == 30 and not warnings
