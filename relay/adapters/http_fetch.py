"""Fetching feeds (and article pages) over HTTP, with limits a hostile server cannot stretch.

feedparser has no timeout and no size cap, so relay fetches with httpx and parses the bytes.
Every way a fetch can go wrong ends here as one :class:`FetchError` whose message says what
happened in words (timeout, DNS, refused, too large, gone); no httpx exception escapes.

Redirects are followed here, not by httpx, because the difference matters to the caller: a
301/308 means "update the feed's address" (``permanent_url``), a 302/307 means "keep it".
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit

import httpx

from relay import __version__
from relay.errors import FetchError

USER_AGENT = f"relay/{__version__} (+https://github.com/relay; feed fetcher)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_PERMANENT_REDIRECTS = frozenset({301, 308})
_TEMPORARY_REDIRECTS = frozenset({302, 303, 307})
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch; ``total_timeout`` is what stops a server that trickles a byte a second."""

    connect_timeout: float = 10
    read_timeout: float = 20
    total_timeout: float = 60
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch (2xx), or a 304 answer to a conditional GET (``not_modified``, no body)."""

    status: int
    final_url: str
    body: bytes | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None
    """Where the feed now lives, when every redirect up to it was permanent (301/308)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """The final response's headers, names lower-cased."""
    max_age: int | None = None
    """Seconds from ``Cache-Control: max-age``: the server asks not to be polled sooner."""
    content_hash: str | None = None
    """sha256 hex of the body: an unchanged feed served without ETag is still recognised."""


def make_client(limits: FetchLimits | None = None) -> httpx.AsyncClient:
    """The client every fetch shares (connection pooling); httpx decompresses gzip and deflate."""
    limits = limits or FetchLimits()
    return httpx.AsyncClient(
        timeout=limits.httpx_timeout(),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept": FEED_ACCEPT},
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits | None = None,
    accept: str = FEED_ACCEPT,
) -> FetchResult:
    """GET ``url`` conditionally, following up to ``limits.max_redirects`` redirects.

    Raises :class:`FetchError` for every failure; ``status`` is set when the server
    answered, ``retry_after`` (seconds) when it asked relay to wait (429, 503).
    """
    limits = limits or FetchLimits()
    try:
        async with asyncio.timeout(limits.total_timeout):
            return await _follow_redirects(client, url, etag, last_modified, limits, accept)
    except TimeoutError as exc:
        raise FetchError(
            f"gave up after {limits.total_timeout:g} s: the server is sending too slowly "
            "(total timeout); relay will try again later"
        ) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _explain(exc, limits) from exc


async def _follow_redirects(
    client: httpx.AsyncClient,
    url: str,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
    accept: str,
) -> FetchResult:
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    permanent_url: str | None = None
    only_permanent_so_far = True
    current = url
    for _ in range(limits.max_redirects + 1):
        async with client.stream("GET", current, headers=headers, timeout=limits.httpx_timeout()) as response:
            status = response.status_code
            if status in _PERMANENT_REDIRECTS or status in _TEMPORARY_REDIRECTS:
                current = _redirect_target(response, current)
                await _drain(response, limits.max_bytes)
                if status in _PERMANENT_REDIRECTS and only_permanent_so_far:
                    permanent_url = current
                else:
                    only_permanent_so_far = False
                continue
            _raise_for_status(response)
            result = FetchResult(
                status=status,
                final_url=str(response.url),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                permanent_url=permanent_url,
                headers={name.lower(): value for name, value in response.headers.items()},
                max_age=_max_age(response.headers.get("cache-control", "")),
            )
            if status == 304:
                await response.aread()  # the (empty) body read to the end keeps the connection reusable
                return replace(result, not_modified=True)
            body = await _read_capped(response, limits.max_bytes)
            return replace(result, body=body, content_hash=hashlib.sha256(body).hexdigest())
    raise FetchError(f"more than {limits.max_redirects} redirects (last one to {current}); check the feed address")


async def _drain(response: httpx.Response, max_bytes: int) -> None:
    """Read a small answer to its end so its connection goes back to the pool; a big one is dropped."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= 64 * 1024 <= max_bytes:
        await response.aread()


def _redirect_target(response: httpx.Response, current: str) -> str:
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise FetchError(f"HTTP {response.status_code} redirect without a Location header", status=response.status_code)
    target = urljoin(current, location)
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchError(f"redirected to {target!r}, which is not an http(s) address", status=response.status_code)
    return target


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 410:
        raise FetchError(
            "the feed is gone (HTTP 410): the site says it was removed for good; "
            "find the blog's new feed address or remove this feed",
            status=410,
        )
    if status in (429, 503):
        retry_after = _retry_after_seconds(response.headers.get("retry-after"), response.headers.get("date"))
        wait = f"; it asks to wait {retry_after:g} s" if retry_after is not None else ""
        raise FetchError(
            f"the server is busy or rate-limiting relay (HTTP {status}){wait}",
            status=status,
            retry_after=retry_after,
        )
    if status >= 400:
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        hint = " (check the feed address)" if status in (401, 403, 404) else ""
        raise FetchError(f"the server answered HTTP {status}{reason}{hint}", status=status)
    if status != 304 and not 200 <= status < 300:
        raise FetchError(f"unexpected HTTP {status} answer", status=status)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """Read the (decompressed) body, stopping as soon as it passes ``max_bytes`` (gzip bombs too)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and "content-encoding" not in response.headers and int(declared) > max_bytes:
        raise FetchError(_too_large(max_bytes))
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(_too_large(max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> str:
    mib = 1024 * 1024
    size = f"{max_bytes // mib} MB" if max_bytes % mib == 0 else f"{max_bytes:,} bytes"
    return f"the feed is larger than {size}; relay stops reading there (is this really a feed?)"


def _max_age(cache_control: str) -> int | None:
    if "no-store" in cache_control.lower():
        return None
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def _retry_after_seconds(value: str | None, date_header: str | None) -> float | None:
    """``Retry-After`` is seconds or an HTTP-date; a date is measured against the server's ``Date``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        until = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    try:
        reference = email.utils.parsedate_to_datetime(date_header).timestamp() if date_header else time.time()
    except (TypeError, ValueError, IndexError):
        reference = time.time()
    return max(0.0, until - reference)


def _explain(exc: httpx.HTTPError | httpx.InvalidURL, limits: FetchLimits) -> FetchError:
    """One sentence per failure mode, for the feed's status page (no traceback ever reaches a user)."""
    host = _host_of(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError(f"could not connect to {host} within {limits.connect_timeout:g} s (connect timeout)")
    if isinstance(exc, httpx.ReadTimeout):
        return FetchError(f"{host} stopped sending data for {limits.read_timeout:g} s (read timeout)")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"timed out talking to {host}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"not a valid http(s) address ({exc})")
    if isinstance(exc, httpx.ConnectError):
        return FetchError(_connect_failure(exc, host))
    if isinstance(exc, httpx.DecodingError):
        return FetchError(f"{host} sent a compressed body that cannot be decompressed ({exc})")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError(f"{host} closed the connection or sent a malformed HTTP answer ({exc})")
    return FetchError(f"the request to {host} failed: {exc.__class__.__name__}: {exc}")


def _connect_failure(exc: httpx.ConnectError, host: str) -> str:
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(c, socket.gaierror) for c in causes) or "name or service not known" in str(exc).lower():
        return f"could not find the server {host} (DNS lookup failed); check the address"
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in str(exc).lower():
        return f"{host} refused the connection (nothing listening, or the site is down)"
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return f"the TLS (https) handshake with {host} failed: {exc}"
    return f"could not connect to {host}: {exc}"


def _host_of(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    try:
        request = exc.request if isinstance(exc, httpx.HTTPError) else None
    except RuntimeError:  # httpx raises when the error was created without a request
        request = None
    return request.url.host if request is not None and request.url.host else "the server"
