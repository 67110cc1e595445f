"""Fetching feeds (and article pages) over HTTP, with limits a hostile server cannot stretch.

feedparser has no timeout and no size cap, so relay fetches and parses the bytes itself.
Every way a fetch can go wrong ends here as one :class:`FetchError` whose message says what
happened in words (timeout, DNS, refused, too large, gone); no client exception escapes.

The client is aiohttp: an agency's round is thousands of conditional GETs, most answered 304,
and on that path aiohttp (C HTTP parser) costs a tenth of httpx's CPU per request
(``bench/bench_http_clients.py``). Other HTTP in relay (X, WebSub, IndexNow) stays on httpx.

Redirects are followed here, not by httpx, because the difference matters to the caller: a
301/308 means "update the feed's address" (``permanent_url``), a 302/307 means "keep it".
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from relay import __version__
from relay.adapters.safe_fetch import is_public, refusal
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

    def client_timeout(self) -> aiohttp.ClientTimeout:
        """Per-step bounds; the total deadline is kept by :func:`fetch` itself, across redirects."""
        return aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout, sock_read=self.read_timeout)


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
    """The httpx client of relay's other outgoing HTTP (IndexNow, WebSub hubs), with the same timeouts."""
    limits = limits or FetchLimits()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=limits.connect_timeout, read=limits.read_timeout, write=limits.read_timeout,
                              pool=limits.connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class FeedClient:
    """Fetches feeds over one pooled aiohttp session, opened in the event loop that first uses it.

    relay is built before its event loop runs (and tests drive one runtime from several
    loops), while an aiohttp session belongs to the loop it was made in: so it is made on
    first use, and made again if that loop is gone.
    """

    def __init__(self, limits: FetchLimits | None = None, *, trusted_hosts: Iterable[str]) -> None:
        self.limits = limits or FetchLimits()
        self.trusted_hosts = frozenset(host.lower() for host in trusted_hosts)
        """The operator's own hosts (the configured feeds', ``[fetch] allow_hosts``): fetched wherever they are.
        Any other host, reached by a redirect or a moved feed, must be on the public internet."""
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies = getproxies_environment()
        """HTTP_PROXY / HTTPS_PROXY (and NO_PROXY) as relay started, honoured like other HTTP clients do."""

    def _check_literal(self, url: str) -> None:
        """A host written as an IP address is not resolved, so the resolver cannot check it: checked here."""
        host = (urlsplit(url).hostname or "").lower()
        if host in self.trusted_hosts:
            return
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver checks every address it gives
        if not is_public(host):
            raise refusal(url, host, host)

    def _proxy_for(self, url: str) -> str | None:
        if not self._proxies:
            return None
        parts = urlsplit(url)
        if proxy_bypass(parts.hostname or ""):
            return None
        return self._proxies.get(parts.scheme)

    @property
    def headers(self) -> Mapping[str, str]:
        return {"User-Agent": USER_AGENT, "Accept": FEED_ACCEPT}

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                headers=dict(self.headers),
                timeout=self.limits.client_timeout(),
                connector=aiohttp.TCPConnector(limit=1000, enable_cleanup_closed=True,
                                               resolver=_GuardedResolver(self.trusted_hosts)),
                # Not trust_env: aiohttp would then read ~/.netrc on every request (a tenth of a round's CPU).
                # The proxy settings of the environment are read once, in _proxy_for.
                trust_env=False,
                auto_decompress=True,
            )
            self._loop = loop
        return self._session

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str = FEED_ACCEPT
    ) -> FetchResult:
        """GET ``url`` conditionally, following up to ``limits.max_redirects`` redirects.

        Raises :class:`FetchError` for every failure; ``status`` is set when the server
        answered, ``retry_after`` (seconds) when it asked relay to wait (429, 503).
        """
        limits = self.limits
        _check_address(url)
        try:
            async with asyncio.timeout(limits.total_timeout):
                return await _follow_redirects(self.session(), url, etag, last_modified, limits, accept,
                                               self._proxy_for, self._check_literal)
        except aiohttp.ClientError as exc:  # first: aiohttp's own timeouts are TimeoutErrors too
            raise _explain(exc, url, limits) from exc
        except TimeoutError as exc:
            raise FetchError(
                f"gave up after {limits.total_timeout:g} s: the server is sending too slowly "
                "(total timeout); relay will try again later"
            ) from exc
        except ValueError as exc:  # an address aiohttp cannot even build a request for
            raise FetchError(f"not a valid http(s) address ({exc})") from exc

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> FeedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name that leads into a private network unless its host is trusted.

    aiohttp connects to the addresses this returns, so the address checked is the address used
    (a name that answers differently the second time, DNS rebinding, gains nothing).
    """

    def __init__(self, trusted_hosts: frozenset[str]) -> None:
        self._inner = ThreadedResolver()
        self._trusted = trusted_hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() not in self._trusted:
            for result in results:
                if not is_public(result["host"]):
                    raise refusal(f"http://{host}:{port}/", host, result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def _check_address(url: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"not a valid http(s) address ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or (port is not None and not 0 < port < 65536):
        raise FetchError(f"not a valid http(s) address ({url!r}: it must start with http:// or https:// "
                         "and name a server)")


async def _follow_redirects(
    session: aiohttp.ClientSession,
    url: str,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
    accept: str,
    proxy_for: Callable[[str], str | None],
    check: Callable[[str], None],
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
        check(current)
        async with session.get(current, headers=headers, allow_redirects=False, proxy=proxy_for(current)) as response:
            status = response.status
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
                await response.read()  # the (empty) body read to the end keeps the connection reusable
                return replace(result, not_modified=True)
            body = await _read_capped(response, limits.max_bytes)
            return replace(result, body=body, content_hash=hashlib.sha256(body).hexdigest())
    raise FetchError(f"more than {limits.max_redirects} redirects (last one to {current}); check the feed address")


async def _drain(response: aiohttp.ClientResponse, max_bytes: int) -> None:
    """Read a small answer to its end so its connection goes back to the pool; a big one is dropped."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= 64 * 1024 <= max_bytes:
        await response.read()


def _redirect_target(response: aiohttp.ClientResponse, current: str) -> str:
    location = str(response.headers.get("location", "")).strip()
    if not location:
        raise FetchError(f"HTTP {response.status} redirect without a Location header", status=response.status)
    target = urljoin(current, location)
    if urlsplit(target).scheme not in ("http", "https"):
        raise FetchError(f"redirected to {target!r}, which is not an http(s) address", status=response.status)
    return target


def _raise_for_status(response: aiohttp.ClientResponse) -> None:
    status = response.status
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
        reason = f" {response.reason}" if response.reason else ""
        hint = " (check the feed address)" if status in (401, 403, 404) else ""
        raise FetchError(f"the server answered HTTP {status}{reason}{hint}", status=status)
    if status != 304 and not 200 <= status < 300:
        raise FetchError(f"unexpected HTTP {status} answer", status=status)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """Read the (decompressed) body, stopping as soon as it passes ``max_bytes`` (gzip bombs too)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and "content-encoding" not in response.headers and int(declared) > max_bytes:
        raise FetchError(_too_large(max_bytes))
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
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


def _explain(exc: aiohttp.ClientError, url: str, limits: FetchLimits) -> FetchError:
    """One sentence per failure mode, for the feed's status page (no traceback ever reaches a user)."""
    host = _host_of(exc, url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchError(f"could not connect to {host} within {limits.connect_timeout:g} s (connect timeout)")
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return FetchError(f"{host} stopped sending data for {limits.read_timeout:g} s (read timeout)")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return FetchError(f"timed out talking to {host}")
    if isinstance(exc, aiohttp.InvalidUrlClientError):
        return FetchError(f"not a valid http(s) address ({exc})")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(f"could not find the server {host} (DNS lookup failed); check the address")
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError(f"the TLS (https) handshake with {host} failed: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(_connect_failure(exc, host))
    if isinstance(exc, aiohttp.ClientPayloadError) and "content-encoding" in str(exc).lower():
        return FetchError(f"{host} sent a compressed body that cannot be decompressed (corrupt gzip or deflate data)")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError
                  | aiohttp.ClientOSError):
        return FetchError(f"{host} closed the connection or sent a malformed HTTP answer ({exc})")
    return FetchError(f"the request to {host} failed: {exc.__class__.__name__}: {exc}")


def _connect_failure(exc: aiohttp.ClientConnectorError, host: str) -> str:
    cause = exc.os_error
    if isinstance(cause, socket.gaierror):
        return f"could not find the server {host} (DNS lookup failed); check the address"
    if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
        return f"{host} refused the connection (nothing listening, or the site is down)"
    if isinstance(cause, ssl.SSLError):
        return f"the TLS (https) handshake with {host} failed: {exc}"
    return f"could not connect to {host}: {cause or exc}"


def _host_of(exc: aiohttp.ClientError, url: str) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.host:
        return exc.host
    return urlsplit(url).hostname or "the server"
