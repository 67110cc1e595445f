"""Passwords inside addresses, masked before an address reaches a page, a log or a message.

A database URL (``postgresql://relay:pw@db/relay``) or a feed behind basic auth
(``https://user:pw@blog.example/feed``) carries its password in plain sight; every place
that shows an address the operator typed shows it through :func:`hide_password`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "********"
_SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "secret", "token", "sslpassword"})


def hide_password(url: str) -> str:
    """``url`` with the password of its user part and any ``password=`` query value masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable address)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if has_password else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_QUERY_KEYS for key, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def passwords_in(url: str) -> list[str]:
    """The secrets :func:`hide_password` would mask, so the log filter can blank them too."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_QUERY_KEYS and v]
    return found
