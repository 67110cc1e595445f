"""The one guarded fetcher: every address relay did not get from its operator goes through here.

Entry pages, featured images, republish by address and WebSub hubs: the address comes
from a feed, a webhook or an API caller, so it may point at this machine or its network
(``http://127.0.0.1:5432``, ``http://169.254.169.254/`` or ``100.100.100.200`` for cloud
metadata, ``http://10.0.0.5/admin``). For every hop (the first request and each redirect):

* the name is resolved once, and refused when any address it resolves to is not
  globally routable (:func:`is_public`), unless the operator listed the host in
  ``[fetch] allow_hosts``;
* the connection goes to the address that was checked, never to a second resolution
  (a DNS-rebinding server answers a public address to the check and 127.0.0.1 to the
  connection): the URL carries the IP, the ``Host`` header and TLS's SNI and certificate
  check carry the name;
* bodies are size-capped, and the whole fetch (DNS, redirects, body) has a total deadline,
  so a server that sends one byte a second holds nothing for long.

The fetch is async, so waiting on a slow server holds no thread of the server's pool;
:meth:`SafeFetcher.get` runs it on its own event loop for callers that are threads.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from relay import __version__
from relay.errors import FetchError

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
IMAGE_MAX_BYTES = 5 * 1024 * 1024
"""X accepts images up to 5 MB (JPEG, PNG, GIF, WEBP)."""
PAGE_MAX_BYTES = 2 * 1024 * 1024
HUB_MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 5
DEADLINE_SECONDS = 15.0
"""The most one fetch may take, all hops and the body included."""
CONNECT_SECONDS = 5.0
USER_AGENT = f"relay/{__version__} (+https://github.com/relay; page and image fetcher)"

_NOT_ROUTABLE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",  # shared address space (carrier NAT); holds Alibaba's metadata, 100.100.100.200
        "192.88.99.0/24",  # 6to4 relay anycast
        "::/96",  # IPv4-compatible IPv6 (::127.0.0.1)
        "2002::/16",  # 6to4: embeds any IPv4 address, private ones too
        "64:ff9b::/96",  # NAT64: likewise
        "64:ff9b:1::/48",
        "fec0::/10",  # site-local (deprecated, still routed inside some networks)
    )
)
"""Ranges ``ipaddress`` calls global that still lead into someone's own network."""


class BlockedAddress(FetchError):
    """The URL resolves to an address relay refuses to fetch from."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """The final URL, after redirects."""
    body: bytes
    content_type: str
    status: int = 200


def is_public(address: str) -> bool:
    """Whether ``address`` is globally routable: not loopback, private, link-local, shared, multicast..."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        return False
    return not any(ip.version == net.version and ip in net for net in _NOT_ROUTABLE)


def _split(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an http(s) URL, or :class:`BlockedAddress` saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedAddress(f"{url!r} is not a valid address ({exc}); check it and send it again") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddress(f"{url!r} is not an http or https address; relay fetches only those")
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def refusal(url: str, host: str, address: str) -> BlockedAddress:
    return BlockedAddress(
        f"refusing to fetch {url}: {host} resolves to {address}, which is not a public internet address "
        f"(loopback, private, link-local or shared). If this host is yours and trusted, add it to "
        f"[fetch] allow_hosts."
    )


async def resolve_public(url: str, allow_hosts: Iterable[str] = ()) -> str | None:
    """The checked address to connect to for ``url``; None for an allowed host (connect as usual).

    Raises :class:`BlockedAddress` when any address the name resolves to is not public,
    :class:`FetchError` when it does not resolve.
    """
    _scheme, host, port = _split(url)
    if host in {h.lower() for h in allow_hosts}:
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}; check the address") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public(address):
            raise refusal(url, host, address)
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no address")
    return addresses[0]


def check_url(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise :class:`BlockedAddress` unless ``url`` is http(s) and resolves only to public addresses."""
    asyncio.run(resolve_public(url, allow_hosts))


def _pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """``url`` aimed at ``address``, with the Host header and the TLS name it needs (URL, headers, extensions)."""
    if address is None:
        return url, {}, {}
    parsed = httpx.URL(url)
    headers = {"Host": parsed.netloc.decode("ascii")}
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return str(parsed.copy_with(host=address)), headers, extensions


class SafeFetcher:
    """Fetches operator-untrusted URLs: addresses checked and pinned, redirects checked hop by hop,
    sizes capped, a total deadline."""

    def __init__(self, *, allow_hosts: Iterable[str] = (), deadline: float = DEADLINE_SECONDS) -> None:
        self.allow_hosts = tuple(allow_hosts)
        self.deadline = deadline

    async def fetch(self, url: str, *, max_bytes: int, accept: str = "*/*", method: str = "GET",
                    form: Mapping[str, str] | None = None) -> Fetched:
        """One request (``form`` makes it a POST), redirects followed for GET; the answer within the deadline."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.deadline):
                return await self._follow(url, max_bytes=max_bytes, accept=accept, method=method, form=form)
        except TimeoutError:
            raise FetchError(
                f"{url} took more than {self.deadline:g} s (relay's limit for one fetch, redirects and body "
                f"included; {time.monotonic() - started:.0f} s spent); the server is too slow"
            ) from None

    async def _follow(self, url: str, *, max_bytes: int, accept: str, method: str,
                      form: Mapping[str, str] | None) -> Fetched:
        for _ in range(MAX_REDIRECTS + 1):
            address = await resolve_public(url, self.allow_hosts)
            target, host_header, extensions = _pinned(url, address)
            headers = {"User-Agent": USER_AGENT, "Accept": accept, **host_header}
            timeout = httpx.Timeout(self.deadline, connect=min(CONNECT_SECONDS, self.deadline))
            # A client per hop: connections are pooled by address, and a second name on the same
            # address must not reuse a TLS session made for the first.
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                try:
                    request = client.build_request(method, target, headers=headers, data=form,
                                                   extensions=extensions)
                    response = await client.send(request, stream=True)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"{url} did not answer in time") from exc
                except httpx.HTTPError as exc:
                    raise FetchError(f"cannot fetch {url}: {type(exc).__name__}") from exc
                try:
                    if response.is_redirect and "location" in response.headers and method == "GET":
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code >= 400:
                        raise FetchError(f"{url} answered HTTP {response.status_code}", status=response.status_code)
                    body = await _read_capped(response, max_bytes, url)
                finally:
                    await response.aclose()
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                return Fetched(url=url, body=body, content_type=content_type, status=response.status_code)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def get(self, url: str, *, max_bytes: int, accept: str = "*/*") -> Fetched:
        """:meth:`fetch` for callers that are threads (never call it on a running event loop)."""
        return asyncio.run(self.fetch(url, max_bytes=max_bytes, accept=accept))

    async def fetch_image_async(self, url: str) -> tuple[bytes, str]:
        """A post's image, if X will take it (type and size)."""
        fetched = await self.fetch(url, max_bytes=IMAGE_MAX_BYTES, accept="image/*")
        if fetched.content_type not in IMAGE_TYPES:
            kind = fetched.content_type or "of unknown type"
            raise FetchError(f"{url} is {kind}, not a JPEG, PNG, GIF or WEBP image")
        return fetched.body, fetched.content_type

    def fetch_image(self, url: str) -> tuple[bytes, str]:
        return asyncio.run(self.fetch_image_async(url))

    async def fetch_page_async(self, url: str) -> Fetched:
        return await self.fetch(url, max_bytes=PAGE_MAX_BYTES, accept="text/html,application/xhtml+xml")

    def fetch_page(self, url: str) -> Fetched:
        return asyncio.run(self.fetch_page_async(url))


async def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url} is {int(declared) // 1024} KB, over the {max_bytes // 1024} KB limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url} is over the {max_bytes // 1024} KB limit")
        chunks.append(chunk)
    return b"".join(chunks)
