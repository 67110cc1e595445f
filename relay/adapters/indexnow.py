"""Telling search engines about a new post at once, with IndexNow (https://www.indexnow.org).

One JSON POST per site: ``{"host", "key", "keyLocation", "urlList"}`` to the endpoint
(``api.indexnow.org`` shares it with every participating engine). The engine proves the
site is ours by fetching ``keyLocation``, the key file the blog serves at
``https://<host>/<key>.txt``; that file is the operator's job (the setting says so).

A ping is a courtesy, not part of relay's promise: every failure is logged and swallowed,
and never delays or fails the poll that found the post. The key is sent to the endpoint
and nowhere else: no log line carries it, nor the endpoint's answer (which could echo it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpx

from relay.core.models import Post

log = logging.getLogger("relay.indexnow")

MAX_URLS_PER_REQUEST = 10_000
"""The protocol's limit for one POST."""
TIMEOUT = httpx.Timeout(10.0)
KEY_PATTERN = re.compile(r"[A-Za-z0-9-]{8,128}")
"""IndexNow keys: 8 to 128 letters, digits or dashes."""

NewPostsHook = Callable[[list[Post]], Awaitable[None]]


async def ping_indexnow(
    client: httpx.AsyncClient, *, endpoint: str, key: str, urls: Iterable[str]
) -> dict[str, int | None]:
    """POST the URLs, grouped by site; returns each host's HTTP status (None when unreachable).

    200 and 202 mean received (202: the key is still being checked). Nothing is raised.
    """
    statuses: dict[str, int | None] = {}
    for host, (origin, batch) in _by_host(urls).items():
        for start in range(0, len(batch), MAX_URLS_PER_REQUEST):
            chunk = batch[start : start + MAX_URLS_PER_REQUEST]
            statuses[host] = await _post(client, endpoint, key, host=host, origin=origin, urls=chunk)
    return statuses


async def _post(
    client: httpx.AsyncClient, endpoint: str, key: str, *, host: str, origin: str, urls: Sequence[str]
) -> int | None:
    payload = {"host": host, "key": key, "keyLocation": f"{origin}/{key}.txt", "urlList": list(urls)}
    extra: dict[str, object] = {"host": host, "urls": len(urls), "endpoint": endpoint}
    try:
        response = await client.post(
            endpoint, json=payload, timeout=TIMEOUT,
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "*/*"},
        )
    except httpx.HTTPError as exc:
        log.warning("indexnow ping failed: endpoint unreachable", extra={**extra, "error": type(exc).__name__})
        return None
    if response.status_code in (200, 202):
        log.info("indexnow ping accepted", extra={**extra, "status": response.status_code})
    else:
        log.warning("indexnow ping refused", extra={**extra, "status": response.status_code,
                                                    "hint": _hint(response.status_code)})
    return response.status_code


def _by_host(urls: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
    """host -> (scheme://host[:port] of the key file, its URLs, each once, in order)."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for url in dict.fromkeys(urls):
        try:
            parts = httpx.URL(url)
        except httpx.InvalidURL:
            continue
        if parts.scheme not in ("http", "https") or not parts.host:
            continue
        origin = f"{parts.scheme}://{parts.netloc.decode('ascii')}"
        groups.setdefault(parts.host, (origin, []))[1].append(url)
    return groups


def _hint(status: int) -> str:
    return {
        400: "bad request: the URL list or JSON was refused",
        403: "the key is not valid for this site: serve it at https://<your blog>/<key>.txt",
        422: "the URLs do not belong to the host, or the key does not match its file",
        429: "too many requests: the engine asks relay to ping less often",
    }.get(status, "unexpected answer")


def indexnow_hook(client: httpx.AsyncClient, *, endpoint: str, key: str) -> NewPostsHook | None:
    """The poller's ``on_new_posts`` hook, or None (IndexNow off) when no usable key is set."""
    if not key:
        return None
    if not KEY_PATTERN.fullmatch(key):
        log.error("indexnow is off: [indexnow] key must be 8 to 128 letters, digits or dashes")
        return None

    async def ping_new_posts(posts: list[Post]) -> None:
        await ping_indexnow(client, endpoint=endpoint, key=key, urls=[post.url for post in posts])

    return ping_new_posts
