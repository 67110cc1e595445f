"""One key per post, whichever door it came through.

A WordPress post has an ID that both the webhook (``id``) and the feed (GUID
``https://blog/?p=ID``) carry, so that wins. Otherwise the GUID (scoped to the blog's
host when it is not itself a URL, since bare GUIDs like ``42`` collide across blogs),
else the normalised link, else a hash of the content. The normalised link is also kept
on its own: a post that comes back with a new GUID but the same link is the same post.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from relay.core.models import Post

_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref"})


def normalise_url(url: str) -> str:
    """A URL with the differences that do not change the page removed.

    Lower-case scheme and host, no default port, no ``www.``, no fragment, no tracking
    parameters (``utm_*``, ``fbclid``...), ``http`` and ``https`` alike, no trailing slash.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    ]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, urlencode(query), ""))


def site_host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def dedup_key(post: Post) -> str:
    """The key under which relay remembers a post (see the module docstring for the order)."""
    host = site_host(post.url)
    if post.wordpress_id is not None and host:
        return f"wp:{host}:{post.wordpress_id}"
    if post.guid and post.guid.strip():
        guid = post.guid.strip()
        if guid.startswith(("http://", "https://")):
            return f"guid:{normalise_url(guid)}"
        return f"guid:{host}:{guid}"
    if post.url:
        return f"url:{normalise_url(post.url)}"
    digest = hashlib.sha256(f"{post.title}\n{post.summary_html}\n{post.content_html}".encode()).hexdigest()
    return f"hash:{digest}"
