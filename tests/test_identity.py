"""One dedup key per post, whichever door it came through."""

from __future__ import annotations

from relay.core.identity import dedup_key, normalise_url
from relay.core.models import Post


def test_normalise_url_removes_what_does_not_change_the_page() -> None:
    assert normalise_url("HTTP://www.Example.com:80/a/b/?utm_source=x&id=3&fbclid=z#top") == (
        "https://example.com/a/b?id=3"
    )
    assert normalise_url("https://example.com") == "https://example.com/"


def test_wordpress_id_is_the_key_for_webhook_and_feed() -> None:
    from_webhook = Post(url="https://blog.example/2026/11/pain/", wordpress_id=42)
    from_feed = Post(url="https://www.blog.example/2026/11/pain/?utm_source=rss", guid="https://blog.example/?p=42",
                     wordpress_id=42)
    assert dedup_key(from_webhook) == dedup_key(from_feed) == "wp:blog.example:42"


def test_bare_guids_are_scoped_to_the_blog() -> None:
    a = Post(url="https://a.example/post", guid="42")
    b = Post(url="https://b.example/post", guid="42")
    assert dedup_key(a) != dedup_key(b)


def test_fallbacks_link_then_content_hash() -> None:
    assert dedup_key(Post(url="https://a.example/p/?utm_medium=x")) == "url:https://a.example/p"
    no_link = dedup_key(Post(url="", title="t", summary_html="s"))
    assert no_link.startswith("hash:")
    assert no_link != dedup_key(Post(url="", title="t", summary_html="other"))
