"""Fetching URLs chosen by others: private addresses refused, redirects checked, sizes capped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relay.adapters.safe_fetch import BlockedAddress, SafeFetcher, check_url
from relay.errors import FetchError
from tests.feed_server import FeedServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:5432/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/admin",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ],
)
def test_private_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(url)


def test_loopback_is_refused_unless_allowed(server: FeedServer) -> None:
    server.set("/a.png", body=PNG, content_type="image/png")
    with pytest.raises(BlockedAddress, match=r"allow_hosts"):
        SafeFetcher().fetch_image(server.url("/a.png"))
    data, mime = SafeFetcher(allow_hosts=["127.0.0.1"]).fetch_image(server.url("/a.png"))
    assert (data, mime) == (PNG, "image/png")


def test_a_redirect_to_a_private_address_is_refused(server: FeedServer) -> None:
    server.redirect("/jump", "http://10.0.0.7/secret", status=302)
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7"):
        SafeFetcher(allow_hosts=["127.0.0.1"]).fetch_page(server.url("/jump"))


def test_images_are_checked_for_type_and_size(server: FeedServer) -> None:
    fetcher = SafeFetcher(allow_hosts=["127.0.0.1"])
    server.set("/doc.html", body="<html></html>", content_type="text/html")
    with pytest.raises(FetchError, match="not a JPEG, PNG, GIF or WEBP"):
        fetcher.fetch_image(server.url("/doc.html"))
    server.set("/huge.png", body=PNG + b"\x00" * (6 * 1024 * 1024), content_type="image/png")
    with pytest.raises(FetchError, match="limit"):
        fetcher.fetch_image(server.url("/huge.png"))
    server.set("/gone.png", body="", status=404)
    with pytest.raises(FetchError, match="404"):
        fetcher.fetch_image(server.url("/gone.png"))
