"""Row 5: XML entity declarations are refused wherever they stand, by defusedxml where feedparser parses.

Before: relay cut an internal DTD out of the first 64 KB by scanning bytes; a comment
before the DOCTYPE or 64 KB of padding slipped past, and a 2 MB feed then took 2 min 14 s
and 2.5 GB (a 9 MB one 3.6 GB; one never finished).
"""

from __future__ import annotations

import resource

import pytest

from relay.adapters.feed_parser import parse_feed
from tests.security.bounded import run_bounded

EXPANDING = '<!ENTITY a "' + "A" * 50_000 + '">'
"""50 KB per reference; 3,500 references expand to 175 MB, under expat's own amplification limit
(100 times the input), which the padding below keeps the document within."""
BODY = (
    '<rss version="2.0"><channel><title>t</title><link>https://blog.example/</link>'
    + "".join(f"<item><title>{n} {'&a;' * 350}</title><link>https://blog.example/{n}</link></item>"
              for n in range(10))
    + "</channel></rss>"
)
PADDING = "x" * (2 * 1024 * 1024)
PROLOGS = {
    "a comment naming an element": f'<?xml version="1.0"?><!-- the <rss> below is a feed {PADDING} -->',
    "a comment past 64 KB": f'<?xml version="1.0"?><!--{PADDING}-->',
    "whitespace and a processing instruction": f'<?xml version="1.0"?><?pi {PADDING}?>' + " " * 70_000,
    "a byte-order mark": f"\ufeff<?xml version='1.0'?><!--<rss>{PADDING}-->",
}
BOUND_SECONDS = 20.0
MAX_GROWTH_KB = 120 * 1024


def _parse(body: bytes) -> tuple[list[int], list[str], int]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    document = parse_feed(body, url="https://blog.example/feed/")
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return [len(post.title) for post in document.posts], list(document.warnings), growth


@pytest.mark.parametrize("prolog", sorted(PROLOGS))
def test_entity_declarations_after_any_prolog_are_never_expanded(prolog: str) -> None:
    body = (PROLOGS[prolog] + f"<!DOCTYPE rss [{EXPANDING}]>" + BODY).encode("utf-8")
    (title_lengths, warnings, growth_kb), _seconds = run_bounded(BOUND_SECONDS, _parse, body)
    assert growth_kb < MAX_GROWTH_KB, f"parsing grew memory by {growth_kb // 1024} MB"
    assert title_lengths and max(title_lengths) < 50_000, "an entity was expanded"
    assert any("declared XML entities" in warning for warning in warnings), warnings
