"""A WordPress webhook's JSON to an event and a :class:`Post`, and what relay should do about it.

Pure: no clock, no I/O. Two body shapes are understood:

**relay-connector** (the plugin in ``deploy/wordpress/relay-connector``)::

    {"event": "publish" | "update" | "trash" | "unpublish",
     "site": {"url": ..., "name": ...},
     "post": {"id": 12, "link": ..., "guid": {"rendered": ...}, "status": ..., "type": "post",
              "date_gmt": "2026-11-25T10:00:00", "modified_gmt": ...,
              "title": {"rendered": ...}, "excerpt": {"rendered": ..., "protected": false},
              "content": {"rendered": ..., "protected": false}, "author_name": ...,
              "category_names": [...], "tag_names": [...],
              "featured_image": {"url": ..., "alt": ...} | null, "password_protected": false},
     "relay": {"share": true, "message": "New: {title} {link}"}}

That is the WordPress REST API's post object plus resolved names, so a hand-made sender
can reuse ``/wp/v2/posts/<id>`` output and add ``event``, ``author_name``,
``category_names`` and ``featured_image``.

``relay`` (optional) carries the author's choices from the editor: ``share: false`` keeps
the post off X (relay remembers it, so the feed does not post it either), and a non-empty
``message`` is the tweet's text, with the template placeholders filled in
(:func:`relay.core.compose.message_template`). Without it the post is shared with the
configured template, as before.

**WP Webhooks** (the "WP Webhooks" plugin's ``post_create`` / ``post_update`` triggers)::

    {"post_id": 12, "post": {"ID": 12, "post_title": ..., "post_status": ..., "post_type": "post",
     "post_password": "", "post_excerpt": ..., "post_content": ..., "post_date_gmt": "2026-11-25 10:00:00",
     "guid": ...}, "post_permalink": ..., "post_thumbnail": url | false,
     "taxonomies": {"category": {"<slug>": {"name": ...}}, "post_tag": {"<slug>": {"name": ...}}}}

It has no event name: a ``publish`` status is a publish, ``trash`` a trash, any other
status an unpublish (which only withdraws what is still queued). ``post_author`` is an ID
in that shape, so the author name stays empty; ``post_meta`` and ``acf_data`` are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from relay.core.compose import MAX_MESSAGE_CHARS
from relay.core.models import Post
from relay.core.protected import says_protected
from relay.core.summary import clean_title

Event = Literal["publish", "update", "trash", "unpublish"]
EVENTS: tuple[Event, ...] = ("publish", "update", "trash", "unpublish")
RELAYED_POST_TYPE = "post"

_ZERO_DATE = re.compile(r"^0000-00-00")


class PayloadError(ValueError):
    """The JSON is not a post event relay understands; the message names the field."""


@dataclass(frozen=True)
class WordPressEvent:
    """One thing that happened to one post."""

    event: Event
    status: str
    """WordPress ``post_status``: publish, future, draft, pending, private, trash..."""
    post: Post
    password_protected: bool
    post_type: str = RELAYED_POST_TYPE
    shape: Literal["relay-connector", "wp-webhooks"] = "relay-connector"
    share: bool = True
    """False when the author switched "Share on X" off in the editor."""
    message: str = ""
    """The author's own tweet text (placeholders allowed); empty: the configured template."""


NOT_SHARED = "the author chose not to share this post on X"


@dataclass(frozen=True)
class Action:
    """What relay does with an event: ``ingest``, ``ingest_if_known``, ``withdraw``, ``remember`` or ``ignore``.

    ``remember``: record the post without posting it (the author opted out), so no other
    door (the feed) posts it later.
    """

    kind: Literal["ingest", "ingest_if_known", "withdraw", "remember", "ignore"]
    reason: str = ""


def parse_payload(data: object) -> WordPressEvent:
    """The event in a decoded JSON body; raises :class:`PayloadError` saying what is wrong."""
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object with \"event\" and \"post\"")
    if "event" in data:
        return _parse_relay_connector(data)
    if "post_id" in data and isinstance(data.get("post"), dict):
        return _parse_wp_webhooks(data)
    raise PayloadError(
        "unknown body: expected {\"event\": ..., \"post\": {...}} (relay-connector) "
        "or {\"post_id\": ..., \"post\": {...}} (WP Webhooks post_create/post_update)"
    )


def decide(event: WordPressEvent) -> Action:
    """The relay rules for one event.

    Only public posts are relayed: published and without a password. A scheduled
    (``future``) post waits for the publish event WordPress sends when it goes live.
    An ``update`` is only an edit: it can change what relay does about a post it
    already knows (``[wordpress] on_update``), and it never makes relay post an old
    article edited for the first time since relay was installed.
    """
    if event.event in ("trash", "unpublish"):
        return Action("withdraw")
    if event.post_type != RELAYED_POST_TYPE:
        return Action("ignore", f"post type {event.post_type!r} is not relayed, only {RELAYED_POST_TYPE!r}")
    if event.status == "future":
        return Action("ignore", "the post is scheduled; relay posts it when WordPress publishes it")
    if event.status != "publish":
        return Action("ignore", f"the post is {event.status}, not published")
    if event.password_protected:
        return Action("ignore", "the post is password-protected")
    if not event.share:
        # Switched off before publishing: remembered, never posted. Switched off on a later
        # edit: whatever is still queued is withdrawn. Switched back on after publishing:
        # an edit never posts (see below); "Relay again" does.
        return Action("remember" if event.event == "publish" else "withdraw", NOT_SHARED)
    if event.event == "update":
        return Action("ingest_if_known")
    return Action("ingest")


def post_reference(data: object) -> Post:
    """The post a status question names: ``{"post": {"id": 12, "link": "https://..."}}``."""
    post = data.get("post") if isinstance(data, dict) else None
    if not isinstance(post, dict):
        raise PayloadError("the body must be {\"post\": {\"id\": <WordPress post ID>, \"link\": <its address>}}")
    return Post(url=_url(post.get("link"), "post.link"), wordpress_id=_positive_int(post.get("id"), "post.id"))


# -- relay-connector ------------------------------------------------------------------------


def _parse_relay_connector(data: Mapping[str, Any]) -> WordPressEvent:
    event = data.get("event")
    if event not in EVENTS:
        raise PayloadError(f"\"event\" must be one of {', '.join(EVENTS)}; got {_show(event)}")
    post = data.get("post")
    if not isinstance(post, dict):
        raise PayloadError("\"post\" must be an object (the WordPress post)")
    site = data.get("site") if isinstance(data.get("site"), dict) else {}
    assert isinstance(site, dict)
    wordpress_id = _positive_int(post.get("id"), "post.id")
    link = _url(post.get("link"), "post.link")
    status = _text(post.get("status"), "post.status", required=True)
    excerpt = _rendered(post.get("excerpt"), "post.excerpt")
    content = _rendered(post.get("content"), "post.content")
    protected = (
        bool(post.get("password_protected"))
        or _protected(post.get("excerpt"))
        or _protected(post.get("content"))
        or says_protected(excerpt)
        or says_protected(content)
    )
    image_url, image_alt = _featured_image(post.get("featured_image"))
    categories = _names(post.get("category_names"), "post.category_names") + _names(
        post.get("tag_names"), "post.tag_names"
    )
    guid = post.get("guid")
    guid_text = _rendered(guid, "post.guid") if isinstance(guid, dict) else _text(guid, "post.guid")
    share, message = _author_choices(data.get("relay"))
    return WordPressEvent(
        event=event,
        status=status,
        password_protected=protected,
        share=share,
        message=message,
        post_type=_text(post.get("type"), "post.type") or RELAYED_POST_TYPE,
        post=Post(
            url=link,
            title=clean_title(_rendered(post.get("title"), "post.title")),
            guid=guid_text or None,
            excerpt_html="" if protected else excerpt,
            content_html="" if protected else content,
            author=_text(post.get("author_name"), "post.author_name"),
            site=clean_title(_text(site.get("name"), "site.name")),
            categories=_unique(categories),
            published_at=_gmt_datetime(post.get("date_gmt"), "post.date_gmt"),
            image_url=image_url,
            image_alt=image_alt,
            wordpress_id=wordpress_id,
        ),
    )


def _author_choices(value: object) -> tuple[bool, str]:
    """``relay.share`` and ``relay.message``: absent means shared with the configured template."""
    if value is None:
        return True, ""
    if not isinstance(value, dict):
        raise PayloadError("\"relay\" must be an object: {\"share\": true|false, \"message\": \"...\"}")
    share = value.get("share", True)
    if not isinstance(share, bool):
        raise PayloadError(f"\"relay.share\" must be true or false; got {_show(share)}")
    message = _text(value.get("message"), "relay.message")[:MAX_MESSAGE_CHARS]
    return share, message.strip()


def _rendered(value: object, field: str) -> str:
    """REST fields come as ``{"rendered": "..."}``; a bare string is accepted too."""
    if isinstance(value, dict):
        value = value.get("rendered")
    return _text(value, field)


def _protected(value: object) -> bool:
    return isinstance(value, dict) and bool(value.get("protected"))


def _featured_image(value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, dict):
        return None, None
    url = value.get("url") or value.get("source_url")
    if not isinstance(url, str) or not _is_http_url(url):
        return None, None
    alt = value.get("alt") if isinstance(value.get("alt"), str) else value.get("alt_text")
    return url, (alt if isinstance(alt, str) and alt.strip() else None)


# -- WP Webhooks ----------------------------------------------------------------------------


def _parse_wp_webhooks(data: Mapping[str, Any]) -> WordPressEvent:
    post = data["post"]
    wordpress_id = _positive_int(data.get("post_id") or post.get("ID"), "post_id")
    status = _text(post.get("post_status"), "post.post_status", required=True)
    event: Event = "publish" if status in ("publish", "future") else "unpublish"
    if status == "trash":
        event = "trash"
    link = data.get("post_permalink") or post.get("guid")
    protected = bool(_text(post.get("post_password"), "post.post_password")) or any(
        says_protected(_text(post.get(name), f"post.{name}")) for name in ("post_excerpt", "post_content")
    )
    thumbnail = data.get("post_thumbnail")
    taxonomies = data.get("taxonomies") if isinstance(data.get("taxonomies"), dict) else {}
    assert isinstance(taxonomies, dict)
    categories = _term_names(taxonomies.get("category")) + _term_names(taxonomies.get("post_tag"))
    return WordPressEvent(
        event=event,
        status=status,
        password_protected=protected,
        post_type=_text(post.get("post_type"), "post.post_type") or RELAYED_POST_TYPE,
        shape="wp-webhooks",
        post=Post(
            url=_url(link, "post_permalink"),
            title=clean_title(_text(post.get("post_title"), "post.post_title")),
            guid=_text(post.get("guid"), "post.guid") or None,
            excerpt_html="" if protected else _text(post.get("post_excerpt"), "post.post_excerpt"),
            content_html="" if protected else _text(post.get("post_content"), "post.post_content"),
            categories=_unique(categories),
            published_at=_gmt_datetime(post.get("post_date_gmt"), "post.post_date_gmt"),
            image_url=thumbnail if isinstance(thumbnail, str) and _is_http_url(thumbnail) else None,
            wordpress_id=wordpress_id,
        ),
    )


def _term_names(terms: object) -> list[str]:
    """``{"slug": {"name": ...}}`` (or a list of term objects) to names."""
    values = terms.values() if isinstance(terms, dict) else terms if isinstance(terms, list) else []
    return [t["name"].strip() for t in values if isinstance(t, dict) and isinstance(t.get("name"), str)]


# -- field helpers --------------------------------------------------------------------------


def _text(value: object, field: str, *, required: bool = False) -> str:
    if value is None or value is False:
        if required:
            raise PayloadError(f"\"{field}\" is required")
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"\"{field}\" must be a string; got {_show(value)}")
    if required and not value.strip():
        raise PayloadError(f"\"{field}\" must not be empty")
    return value


def _positive_int(value: object, field: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PayloadError(f"\"{field}\" must be the WordPress post ID (a number > 0); got {_show(value)}")
    return value


def _url(value: object, field: str) -> str:
    text = _text(value, field, required=True).strip()
    if not _is_http_url(text):
        raise PayloadError(f"\"{field}\" must be the post's absolute http(s) address; got {_show(text)}")
    return text


def _is_http_url(text: str) -> bool:
    """An absolute http(s) address that can be stored and fetched (valid port, no lone surrogate)."""
    try:
        text.encode("utf-8")
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for "[::1" or port 99999
    except (ValueError, UnicodeError):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _names(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PayloadError(f"\"{field}\" must be a list of strings")
    return [clean_title(v) for v in value if v.strip()]


def _unique(names: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
    return tuple(seen.values())


def _gmt_datetime(value: object, field: str) -> datetime | None:
    """WordPress GMT dates: ``2026-11-25T10:00:00`` (REST) or ``2026-11-25 10:00:00`` (DB), no zone."""
    text = _text(value, field).strip()
    if not text or _ZERO_DATE.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        example = "2026-11-25T10:00:00"
        raise PayloadError(f"\"{field}\" must be a GMT date like {example}; got {_show(text)}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
