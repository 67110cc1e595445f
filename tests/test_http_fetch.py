"""fetch() against a real local HTTP server: conditional GET, redirects, errors, hostile servers."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from relay import __version__
from relay.adapters.http_fetch import FeedClient, FetchLimits, FetchResult
from relay.adapters.safe_fetch import BlockedAddress
from relay.errors import FetchError
from tests.feed_server import FeedServer

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title></channel></rss>'
LAST_MODIFIED = "Wed, 01 Jan 2025 10:00:00 GMT"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def get(
    url: str, *, limits: FetchLimits | None = None, etag: str | None = None, last_modified: str | None = None
) -> FetchResult:
    """Run one fetch with a fresh client, as a sync call (no async test plugin needed)."""
    limits = limits or FetchLimits()

    async def run() -> FetchResult:
        async with FeedClient(limits, trusted_hosts=["127.0.0.1"]) as client:
            return await client.fetch(url, etag=etag, last_modified=last_modified)

    return asyncio.run(run())


def fetch_error(url: str, *, limits: FetchLimits | None = None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(url, limits=limits)
    return caught.value


# -- success and conditional GET ----------------------------------------------------------


def test_a_plain_fetch_returns_body_hash_and_headers(server: FeedServer) -> None:
    server.set("/feed", body=FEED, max_age=600)
    result = get(server.url("/feed"))
    assert (result.status, result.body, result.not_modified) == (200, FEED, False)
    assert result.final_url == server.url("/feed") and result.permanent_url is None
    assert result.content_hash is not None and len(result.content_hash) == 64
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert result.max_age == 600
    request = server.requests[-1]
    assert request.headers["user-agent"] == f"relay/{__version__} (+https://github.com/relay; feed fetcher)"
    assert "application/rss+xml" in request.headers["accept"]
    assert "if-none-match" not in request.headers and "if-modified-since" not in request.headers


def test_etag_gives_304_without_body(server: FeedServer) -> None:
    server.set("/feed", body=FEED, etag=True)
    first = get(server.url("/feed"))
    assert first.etag == server.etag_for("/feed") and first.body == FEED
    second = get(server.url("/feed"), etag=first.etag)
    assert second.not_modified and second.status == 304 and second.body is None and second.content_hash is None
    assert server.requests[-1].headers["if-none-match"] == first.etag


def test_last_modified_gives_304_and_a_changed_feed_gives_200(server: FeedServer) -> None:
    server.set("/feed", body=FEED, last_modified=LAST_MODIFIED)
    first = get(server.url("/feed"))
    assert first.last_modified == LAST_MODIFIED
    assert get(server.url("/feed"), last_modified=LAST_MODIFIED).not_modified
    assert server.requests[-1].headers["if-modified-since"] == LAST_MODIFIED
    server.set("/feed", body=FEED + b" ", last_modified="Thu, 02 Jan 2025 10:00:00 GMT")
    changed = get(server.url("/feed"), last_modified=LAST_MODIFIED)
    assert changed.body == FEED + b" " and changed.content_hash != first.content_hash


# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "permanent"), [(301, True), (308, True), (302, False), (307, False)])
def test_only_permanent_redirects_move_the_feed(server: FeedServer, status: int, permanent: bool) -> None:
    server.set("/new", body=FEED)
    server.redirect("/old", "/new", status=status)
    result = get(server.url("/old"))
    assert result.body == FEED and result.final_url == server.url("/new")
    assert result.permanent_url == (server.url("/new") if permanent else None)


def test_a_chain_is_permanent_only_up_to_its_first_temporary_hop(server: FeedServer) -> None:
    server.set("/c", body=FEED)
    server.redirect("/a", "/b", status=301)
    server.redirect("/b", "/c", status=302)
    result = get(server.url("/a"))
    assert (result.permanent_url, result.final_url) == (server.url("/b"), server.url("/c"))


def test_conditional_headers_follow_redirects(server: FeedServer) -> None:
    server.set("/new", body=FEED, etag='"v1"')
    server.redirect("/old", server.url("/new"), status=301)  # an absolute Location works too
    result = get(server.url("/old"), etag='"v1"')
    assert result.not_modified and result.permanent_url == server.url("/new")


def test_redirect_loops_stop_after_five_hops(server: FeedServer) -> None:
    server.redirect("/loop", "/loop", status=302)
    error = fetch_error(server.url("/loop"))
    assert "more than 5 redirects" in str(error)
    assert len(server.requests_for("/loop")) == 6


def test_a_redirect_without_location_is_an_error(server: FeedServer) -> None:
    server.set("/nowhere", status=301)
    assert fetch_error(server.url("/nowhere")).status == 301


# -- error statuses -------------------------------------------------------------------------


def test_410_says_the_feed_is_gone(server: FeedServer) -> None:
    server.set("/feed", body=b"gone", status=410)
    error = fetch_error(server.url("/feed"))
    assert error.status == 410 and str(error).startswith("the feed is gone (HTTP 410)")


def test_429_with_retry_after_seconds(server: FeedServer) -> None:
    server.set("/feed", status=429, retry_after=120)
    error = fetch_error(server.url("/feed"))
    assert (error.status, error.retry_after) == (429, 120.0)
    assert "120 s" in str(error)


def test_503_with_retry_after_as_an_http_date(server: FeedServer) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    server.set("/feed", status=503, retry_after=later)
    error = fetch_error(server.url("/feed"))
    assert error.status == 503 and error.retry_after is not None and 590 <= error.retry_after <= 600


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500, 502])
def test_other_error_statuses_carry_the_status(server: FeedServer, status: int) -> None:
    server.set("/feed", status=status, retry_after=30)
    error = fetch_error(server.url("/feed"))
    assert error.status == status and error.retry_after is None and f"HTTP {status}" in str(error)


# -- hostile or broken servers --------------------------------------------------------------


def test_a_trickling_server_hits_the_total_timeout(server: FeedServer) -> None:
    server.set("/slow", body=FEED, trickle=0.2)  # every byte arrives well within the read timeout
    limits = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=1)
    started = time.monotonic()
    error = fetch_error(server.url("/slow"), limits=limits)
    assert time.monotonic() - started < 2
    assert "total timeout" in str(error) and error.status is None
    assert isinstance(error.__cause__, TimeoutError)


def test_a_server_that_stops_sending_hits_the_read_timeout(server: FeedServer) -> None:
    server.set("/stalled", body=FEED, trickle=3)
    error = fetch_error(server.url("/stalled"), limits=FetchLimits(read_timeout=0.3, total_timeout=10))
    assert "read timeout" in str(error) and isinstance(error.__cause__, aiohttp.SocketTimeoutError)


def test_an_endless_body_is_cut_at_max_bytes(server: FeedServer) -> None:
    server.set("/huge", endless=True)
    started = time.monotonic()
    error = fetch_error(server.url("/huge"), limits=FetchLimits(max_bytes=1024 * 1024))
    assert time.monotonic() - started < 3
    assert str(error).startswith("the feed is larger than 1 MB")


def test_a_declared_length_over_the_limit_is_refused_before_reading(server: FeedServer) -> None:
    server.set("/big", body=b"x" * 5000)
    assert "larger than 4,000 bytes" in str(fetch_error(server.url("/big"), limits=FetchLimits(max_bytes=4000)))


def test_gzip_is_accepted_and_decompressed(server: FeedServer) -> None:
    server.set("/feed", body=FEED * 50, gzip=True)
    result = get(server.url("/feed"))
    assert result.body == FEED * 50 and result.headers["content-encoding"] == "gzip"
    assert "gzip" in server.requests[-1].headers["accept-encoding"]


def test_a_gzip_bomb_is_cut_at_max_bytes_after_decompression(server: FeedServer) -> None:
    bomb = b"\0" * (20 * 1024 * 1024)
    assert len(gzip.compress(bomb)) < 100_000
    server.set("/bomb", body=bomb, gzip=True)
    assert "larger than 1 MB" in str(fetch_error(server.url("/bomb"), limits=FetchLimits(max_bytes=1024 * 1024)))


def test_a_corrupt_gzip_body_is_explained(server: FeedServer) -> None:
    server.set("/bad", body=FEED, headers={"Content-Encoding": "gzip"})
    error = fetch_error(server.url("/bad"))
    assert "cannot be decompressed" in str(error) and isinstance(error.__cause__, aiohttp.ClientPayloadError)


# -- network failures -----------------------------------------------------------------------


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_explained() -> None:
    error = fetch_error(f"http://127.0.0.1:{_unused_port()}/feed")
    assert "refused the connection" in str(error) and isinstance(error.__cause__, aiohttp.ClientConnectorError)


def test_an_unknown_host_is_explained_as_dns() -> None:
    error = fetch_error("http://relay-test-host.invalid/feed")
    assert "DNS" in str(error) and "relay-test-host.invalid" in str(error)


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "http://", "not a url"])
def test_addresses_that_are_not_http_are_explained(url: str) -> None:
    assert "not a valid http(s) address" in str(fetch_error(url))


def test_the_client_sends_the_user_agent_and_takes_its_timeouts_from_limits(server: FeedServer) -> None:
    limits = FetchLimits(connect_timeout=3, read_timeout=4)
    server.set("/feed", body=FEED)

    async def run() -> tuple[object, object]:
        async with FeedClient(limits, trusted_hosts=["127.0.0.1"]) as client:
            await client.fetch(server.url("/feed"))
            timeout = client.session().timeout
            return (timeout.sock_connect, timeout.sock_read), timeout.total

    assert asyncio.run(run()) == ((3, 4), None)  # the total deadline is fetch's own, across redirects
    sent = server.requests_for("/feed")[-1].headers
    assert sent["user-agent"].startswith("relay/") and sent["accept"].startswith("application/rss+xml")


def test_the_environment_proxy_is_used_and_no_proxy_honoured(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is read once, as relay starts (not ~/.netrc on every request); NO_PROXY hosts go direct."""
    server.set("/feed", body=FEED)
    with FeedServer() as proxy:
        proxy.set(server.url("/feed"), body=b"<rss><channel><title>via the proxy</title></channel></rss>")
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert b"via the proxy" in (get(server.url("/feed")).body or b"")
        assert proxy.requests_for(server.url("/feed"))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert get(server.url("/feed")).body == FEED


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/feed", "http://localhost:{port}/feed",
                                    "http://[::ffff:127.0.0.2]:{port}/feed", "http://169.254.169.254/latest/"])
def test_a_redirect_into_a_private_network_is_refused(server: FeedServer, target: str) -> None:
    """The operator's feed host is trusted wherever it is; where a redirect leads, relay did not choose."""
    port = server.base_url.rsplit(":", 1)[1]
    server.redirect("/feed", target.format(port=port), status=302)
    error = fetch_error(server.url("/feed"))
    assert "not a public internet address" in str(error) and "allow_hosts" in str(error)
    assert isinstance(error, BlockedAddress)


def test_a_redirect_to_a_trusted_host_is_followed(server: FeedServer) -> None:
    with FeedServer(host="127.0.0.2") as other:
        other.set("/feed", body=FEED)
        server.redirect("/feed", other.url("/feed"), status=302)

        async def run(trusted: list[str]) -> FetchResult:
            async with FeedClient(trusted_hosts=trusted) as client:
                return await client.fetch(server.url("/feed"))

        assert asyncio.run(run(["127.0.0.1", "127.0.0.2"])).body == FEED  # [fetch] allow_hosts = ["127.0.0.2"]
        with pytest.raises(BlockedAddress):
            asyncio.run(run(["127.0.0.1"]))
        assert len(other.requests) == 1, "the refused fetch never reached the untrusted host"
