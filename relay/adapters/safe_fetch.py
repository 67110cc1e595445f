"""Fetching a URL someone else chose (a featured image, a page to republish), safely.

The URL comes from a feed, a webhook or an API caller, so it may point at this machine
or its network: ``http://127.0.0.1:5432``, ``http://169.254.169.254/`` (cloud metadata),
``http://10.0.0.5/admin``. Every hop (the first request and each redirect) is resolved
and refused when any address it resolves to is loopback, private, link-local, reserved
or multicast, unless its host is in the operator's allow-list. Bodies are size-capped
and time-bounded like feeds.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from relay import __version__
from relay.errors import FetchError

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
IMAGE_MAX_BYTES = 5 * 1024 * 1024
"""X accepts images up to 5 MB (JPEG, PNG, GIF, WEBP)."""
PAGE_MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = f"relay/{__version__} (+https://github.com/relay; page and image fetcher)"


class BlockedAddress(FetchError):
    """The URL resolves to an address relay refuses to fetch from."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """The final URL, after redirects."""
    body: bytes
    content_type: str


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
        or ip.is_unspecified
    )


def check_url(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise :class:`BlockedAddress` unless ``url`` is http(s) and resolves only to public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddress(f"{url!r} is not an http or https URL")
    host = parts.hostname.lower()
    if host in {h.lower() for h in allow_hosts}:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror}") from exc
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise BlockedAddress(
                f"refusing to fetch {url}: {host} resolves to {address}, a private, loopback or link-local "
                f"address. If this host is yours and trusted, add it to [fetch] allow_hosts."
            )


class SafeFetcher:
    """Fetches operator-untrusted URLs with address checks, redirects checked hop by hop, size caps."""

    def __init__(self, *, allow_hosts: Iterable[str] = (), timeout: float = 15.0) -> None:
        self.allow_hosts = tuple(allow_hosts)
        self.timeout = httpx.Timeout(timeout, connect=5.0)

    def get(self, url: str, *, max_bytes: int, accept: str = "*/*") -> Fetched:
        with httpx.Client(timeout=self.timeout, follow_redirects=False,
                          headers={"User-Agent": USER_AGENT, "Accept": accept}) as client:
            for _ in range(MAX_REDIRECTS + 1):
                check_url(url, self.allow_hosts)
                try:
                    with client.stream("GET", url) as response:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        if response.status_code >= 400:
                            raise FetchError(f"{url} answered HTTP {response.status_code}",
                                             status=response.status_code)
                        body = _read_capped(response, max_bytes, url)
                        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                        return Fetched(url=url, body=body, content_type=content_type)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"{url} did not answer in time") from exc
                except httpx.HTTPError as exc:
                    raise FetchError(f"cannot fetch {url}: {type(exc).__name__}") from exc
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def fetch_image(self, url: str) -> tuple[bytes, str]:
        """A post's image, if X will take it (type and size)."""
        fetched = self.get(url, max_bytes=IMAGE_MAX_BYTES, accept="image/*")
        if fetched.content_type not in IMAGE_TYPES:
            kind = fetched.content_type or "of unknown type"
            raise FetchError(f"{url} is {kind}, not a JPEG, PNG, GIF or WEBP image")
        return fetched.body, fetched.content_type

    def fetch_page(self, url: str) -> Fetched:
        return self.get(url, max_bytes=PAGE_MAX_BYTES, accept="text/html,application/xhtml+xml")


def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url} is {int(declared) // 1024} KB, over the {max_bytes // 1024} KB limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url} is over the {max_bytes // 1024} KB limit")
        chunks.append(chunk)
    return b"".join(chunks)
