"""Posting to Bluesky over XRPC with an app password, every failure translated once into relay's errors.

:mod:`relay.wiring` builds it for each ``network = "bluesky"`` account that has an app password.

**Why not the atproto SDK.** ``atproto`` 0.0.73 (MarshalX's SDK) was read and measured: importing
``atproto.Client`` adds about 57 MB of resident memory and 0.6 s (923 modules: pydantic models for
every lexicon, cryptography, dnspython, libipld), against relay's budget of under 100 MB at rest
with 97 MB already used. relay needs six XRPC methods with plain JSON bodies, so this module is a
thin client over httpx (already a dependency) with bounded timeouts (5 s to connect, 30 s per read,
as for X): importing it on top of :mod:`relay.wiring` adds about 1.4 MB. It is to be imported only
where a Bluesky account is configured, so a relay without one never loads it (nor ``regex``, which
:mod:`relay.core.bluesky_text` uses); ``tests/test_bluesky_publisher.py`` checks that.

**Exactly once.** ``publish(..., record_key=...)`` creates the post under a key derived from the
delivery (:func:`relay.core.bluesky_tid.record_key_for_delivery`). A retry names the same record,
and the PDS will not store a second one; but it answers a repeated key with a 500 (see
:mod:`relay.testing.bluesky_emulator`), and a timed-out create may have landed. So after any
create that did not plainly succeed or plainly fail validation, the record is looked up with
``com.atproto.repo.getRecord``: if it is there, the post was made, and that is the answer.

**Sessions.** ``createSession`` once, then the access token until the PDS says ``ExpiredToken``:
then ``refreshSession`` once (a new session if the refresh token is dead too: ``ExpiredToken``
"Token has been revoked" past its grace period, or ``InvalidToken``) and the call again, once. A
token the PDS no longer recognises at all (400 ``InvalidToken``: its signing key changed, the
account moved) means a new session with the app password and the call again, once; only a refused
login blocks the account. The app password is sent to ``createSession`` only and appears in no
message, log or repr.

**Images.** The PDS takes uploads up to 5 MiB but refuses, at ``createRecord``, a post whose image
or card thumbnail is over 1,000,000 bytes ("blob too big"): that would lose the post, not just its
image. So :meth:`BlueskyPublisher.upload_image` refuses such an image (and anything but an image)
before uploading it, and the outbox posts without it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from relay.core.bluesky_text import ExternalCard, Facet, detect_facets
from relay.core.bluesky_tid import record_key_for_delivery
from relay.core.ports import Outgoing, PublishedTweet
from relay.errors import AccountBlocked, PostRefused, PublishError, RateLimited, TransientPublishError

log = logging.getLogger("relay.publisher.bluesky")

BLUESKY_SERVICE = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE_SIZE = 100
"""The most ``app.bsky.feed.getAuthorFeed`` gives in one page."""
MAX_IMAGE_BYTES = 1_000_000
"""The lexicon's ``maxSize`` for a post's images and a link card's thumbnail."""
METRICS_BATCH = 25
"""The most ``app.bsky.feed.getPosts`` takes in one call."""
MAX_FEED_PAGES = 40
"""How far back ``recent_posts(since=...)`` pages at most (4,000 posts)."""
_AUTH_ERRORS = {"AuthenticationRequired", "InvalidToken", "AccountTakedown", "AccountDeactivated",
                "AuthFactorTokenRequired", "AuthMissing"}


@dataclass(frozen=True, repr=False)
class BlueskyCredentials:
    """The account (handle, DID or e-mail) and its app password; never shown, not even in a repr."""

    identifier: str
    app_password: str

    def __repr__(self) -> str:
        return f"BlueskyCredentials(identifier={self.identifier!r}, app_password=<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True)
class BlueskyRecentPost:
    """A post of the account, as listed when reconciling: ``id`` is its AT URI."""

    id: str
    text: str
    created_at: datetime | None
    links: tuple[str, ...] = ()
    """Every link facet's URI and the link card's URI."""

    @property
    def record_key(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        return web_url(self.id)


@dataclass(frozen=True)
class ComposedParts:
    """What the composer made beside a post's text, read back from the delivery."""

    facets: tuple[Facet, ...] | None
    card: ExternalCard | None
    langs: tuple[str, ...]


def _moved(facets: Sequence[Facet], before: str, after: str) -> tuple[Facet, ...]:
    """``facets`` of ``before`` over the same words in ``after`` (those still there), with what
    :func:`detect_facets` finds in ``after`` where no moved facet lies."""
    old, new = before.encode("utf-8"), after.encode("utf-8")
    moved: list[Facet] = []
    taken: list[tuple[int, int]] = []
    for facet in facets:
        words = old[facet.byte_start:facet.byte_end]
        at = new.find(words) if words else -1
        while at >= 0 and any(start < at + len(words) and at < end for start, end in taken):
            at = new.find(words, at + 1)
        if at >= 0:
            moved.append(Facet(at, at + len(words), facet.kind, facet.value))
            taken.append((at, at + len(words)))
    found = [f for f in detect_facets(after)
             if not any(start < f.byte_end and f.byte_start < end for start, end in taken)]
    return tuple(sorted([*moved, *found], key=lambda f: f.byte_start))


def parts_from_extra(text: str, extra: Mapping[str, Any] | None) -> ComposedParts:
    """The facets, card and languages composed with ``text`` (see :func:`relay.core.networks.compose_for_bluesky`).

    The facets hold byte offsets into the text as composed. If the owner edited the text in review,
    each is found again where its words now stand (the short link shown, a hashtag), and the full
    links and tags the owner wrote are found as well.
    """
    if not extra:
        return ComposedParts(None, None, ())
    composed = tuple(Facet(int(start), int(end), kind, str(value))
                     for start, end, kind, value in extra.get("facets") or ())
    facets = composed if extra.get("text") == text else _moved(composed, str(extra.get("text") or ""), text)
    card_fields = extra.get("card") or {}
    card = ExternalCard(str(card_fields["uri"]), str(card_fields.get("title", "")),
                        str(card_fields.get("description", ""))) if card_fields.get("uri") else None
    return ComposedParts(facets, card, tuple(str(lang) for lang in extra.get("langs") or ()))


@dataclass(frozen=True)
class BlueskyMetrics:
    uri: str
    like_count: int
    repost_count: int
    reply_count: int
    quote_count: int


def web_url(uri: str, handle: str | None = None) -> str:
    """Where a person sees the post: ``at://DID/app.bsky.feed.post/RKEY`` on bsky.app."""
    if not uri.startswith("at://"):
        raise ValueError(f"{uri!r} is not an AT URI")
    authority, _, rkey = uri.removeprefix("at://").partition(f"/{POST_COLLECTION}/")
    if not rkey:
        raise ValueError(f"{uri!r} is not the AT URI of a post")
    return f"https://bsky.app/profile/{handle or authority}/post/{rkey}"


def media_id_for(blob: Mapping[str, Any], alt_text: str | None) -> str:
    """The opaque media id :meth:`BlueskyPublisher.upload_image` returns: the blob ref and its description,
    as JSON, so the outbox can store it and a later attempt (another process) can still post it."""
    return json.dumps({"blob": dict(blob), "alt": alt_text or ""}, sort_keys=True, separators=(",", ":"))


def _blob_of(media_id: str) -> tuple[dict[str, Any], str]:
    try:
        data = json.loads(media_id)
        return dict(data["blob"]), str(data.get("alt") or "")
    except (ValueError, KeyError, TypeError) as exc:
        raise PostRefused(f"{media_id[:40]!r} is not a media id of a Bluesky upload") from exc


def _error_name(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.reason_phrase
    if not isinstance(body, dict):
        return "", response.reason_phrase
    return str(body.get("error") or ""), str(body.get("message") or "")[:300]


def error_for_response(response: httpx.Response, action: str) -> PublishError:
    """The relay error for an XRPC error answer. The one place that reads Bluesky's statuses."""
    status = response.status_code
    name, message = _error_name(response)
    said = f"{status} {name}: {message}" if name else f"{status} {message}"
    if status == 429:
        reset = response.headers.get("ratelimit-reset", "")
        reset_at = float(reset) if reset.isdigit() else None
        when = f" until {datetime.fromtimestamp(reset_at, UTC):%Y-%m-%d %H:%M:%S} UTC" if reset_at else ""
        return RateLimited(f"Bluesky rate limit reached while trying to {action} ({said}); wait{when}.",
                           reset_at=reset_at)
    if status >= 500:
        return TransientPublishError(f"Bluesky failed while trying to {action} ({said}); retry later.")
    if status in (401, 403) or name in _AUTH_ERRORS or name == "ExpiredToken":
        return AccountBlocked(
            f"Bluesky refused relay's login while trying to {action} ({said}). Check the account's handle and "
            "app password in relay's settings (Bluesky: Settings > Privacy and security > App passwords)."
        )
    return PostRefused(f"Bluesky refused to {action} ({said}); sending the same request again will not help.")


class BlueskyPublisher:
    """A :class:`relay.core.ports.Publisher` for one Bluesky account, over XRPC.

    Never retries by itself, except the one call again after refreshing an expired session; every
    failure is raised at once as a :class:`relay.errors.PublishError` subclass.
    """

    def __init__(self, credentials: BlueskyCredentials, *, service_url: str = BLUESKY_SERVICE,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None) -> None:
        self.service_url = service_url.rstrip("/")
        self._credentials = credentials
        self._http = httpx.Client(base_url=f"{self.service_url}/xrpc/", timeout=timeout, transport=transport,
                                  trust_env=False, headers={"User-Agent": "relay (Bluesky publisher)"})
        self._access: str | None = None
        self._refresh: str | None = None
        self.did: str | None = None
        self.handle: str | None = None

    def __repr__(self) -> str:
        return f"BlueskyPublisher(service_url={self.service_url!r})"

    def close(self) -> None:
        self._http.close()

    @property
    def dry_run(self) -> bool:
        return False

    # -- XRPC and the session ---------------------------------------------------------------------

    def _send(self, method: str, nsid: str, action: str, *, token: str | None = None,
              **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        try:
            return self._http.request(method, nsid, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientPublishError(
                f"Bluesky did not answer in time while trying to {action}; it may still have done it.") from exc
        except httpx.HTTPError as exc:
            raise TransientPublishError(f"could not reach Bluesky to {action} ({type(exc).__name__}); "
                                        "retry later.") from exc

    def _login(self) -> None:
        action = "log in"
        response = self._send("POST", "com.atproto.server.createSession", action,
                              json={"identifier": self._credentials.identifier,
                                    "password": self._credentials.app_password})
        self._take_session(response, action)

    def _refresh_session(self) -> None:
        action = "refresh the session"
        response = self._send("POST", "com.atproto.server.refreshSession", action, token=self._refresh)
        if response.status_code in (400, 401) and _error_name(response)[0] in ("ExpiredToken", "InvalidToken"):
            self._login()  # the refresh token is dead too: a new session, with the app password
            return
        self._take_session(response, action)

    def _take_session(self, response: httpx.Response, action: str) -> None:
        if response.status_code != 200:
            raise error_for_response(response, action)
        body = response.json()
        self._access, self._refresh = str(body["accessJwt"]), str(body["refreshJwt"])
        self.did, self.handle = str(body["did"]), str(body.get("handle") or "")
        log.debug("Bluesky session for %s", self.did)

    def _call(self, method: str, nsid: str, action: str, **kwargs: Any) -> httpx.Response:
        """An authenticated call; an expired session is refreshed once and the call made once more.

        Returns the answer, successful or not (the caller reads errors it can act on)."""
        if self._access is None:
            self._login()
        response = self._send(method, nsid, action, token=self._access, **kwargs)
        said = _error_name(response)[0] if response.status_code in (400, 401) else ""
        if said == "ExpiredToken":
            self._refresh_session()
            response = self._send(method, nsid, action, token=self._access, **kwargs)
        elif said == "InvalidToken":
            log.info("Bluesky did not recognise relay's session (%s %s); logging in again",
                     response.status_code, said)
            self._login()
            response = self._send(method, nsid, action, token=self._access, **kwargs)
        return response

    def _json(self, method: str, nsid: str, action: str, **kwargs: Any) -> dict[str, Any]:
        response = self._call(method, nsid, action, **kwargs)
        if response.status_code != 200:
            raise error_for_response(response, action)
        body = response.json()
        if not isinstance(body, dict):
            raise TransientPublishError(f"Bluesky answered without a JSON object while trying to {action}.")
        return body

    def _repo(self) -> str:
        if self.did is None:
            self._login()
        assert self.did is not None
        return self.did

    # -- the port ---------------------------------------------------------------------------------

    def upload_image(self, data: bytes, mime: str, alt_text: str | None = None) -> str:
        """Upload one image as a blob; the media id carries the blob ref (see :func:`media_id_for`).

        An image Bluesky would refuse in a post (over 1,000,000 bytes, or not an image) is refused here,
        before uploading it (see the module's docstring)."""
        if len(data) > MAX_IMAGE_BYTES:
            raise PostRefused(f"the image is {len(data):,} bytes; Bluesky takes images of at most "
                              f"{MAX_IMAGE_BYTES:,} bytes in a post.")
        if not mime.startswith("image/"):
            raise PostRefused(f"{mime!r} is not an image type; Bluesky takes only images in a post.")
        body = self._json("POST", "com.atproto.repo.uploadBlob", "upload an image", content=data,
                          headers={"Content-Type": mime})
        blob = body.get("blob")
        if not isinstance(blob, dict):
            raise TransientPublishError("Bluesky answered the upload without a blob.")
        return media_id_for(blob, alt_text)

    def publish(self, text: str, media_ids: Sequence[str] | None = None, *, record_key: str | None = None,
                facets: Sequence[Facet] | None = None, card: ExternalCard | None = None,
                created_at: datetime | None = None, langs: Sequence[str] = (),
                outgoing: Outgoing | None = None) -> PublishedTweet:
        """Post ``text``; the answer's ``tweet_id`` is the post's AT URI.

        ``facets``: as composed (:func:`relay.core.bluesky_text.compose_bluesky_post`); without them,
        the full links and tags written in ``text`` are found. ``card``: the link card, with the first
        media as its thumbnail; without a card, the media are attached as images with their
        descriptions. ``record_key``: see the module's docstring. ``outgoing`` (from the outbox) gives
        all of these from the delivery: the key from its id and queue time, the rest from what was
        composed with the text (:func:`relay.core.networks.compose_for_bluesky`).
        """
        if outgoing is not None:
            record_key = record_key or record_key_for_delivery(outgoing.delivery_id, outgoing.queued_at)
            composed = parts_from_extra(text, outgoing.extra)
            facets = facets if facets is not None else composed.facets
            card = card or composed.card
            langs = langs or composed.langs
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": (created_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        found = list(facets) if facets is not None else list(detect_facets(text))
        if found:
            record["facets"] = [facet.to_record() for facet in found]
        if langs:
            record["langs"] = list(langs)
        blobs = [_blob_of(media_id) for media_id in media_ids or ()]
        if card is not None:
            record["embed"] = card.to_record(blobs[0][0] if blobs else None)
        elif blobs:
            record["embed"] = {"$type": "app.bsky.embed.images",
                               "images": [{"image": blob, "alt": alt} for blob, alt in blobs[:4]]}
        request: dict[str, Any] = {"repo": self._repo(), "collection": POST_COLLECTION, "record": record}
        if record_key is not None:
            request["rkey"] = record_key
        action = "create a post"
        try:
            response = self._call("POST", "com.atproto.repo.createRecord", action, json=request)
        except TransientPublishError:
            if record_key is not None and (existing := self._existing(record_key, text)) is not None:
                return existing
            raise
        if response.status_code == 200:
            body = response.json()
            log.debug("posted %s", body.get("uri"))
            return PublishedTweet(tweet_id=str(body["uri"]), text=text, url=web_url(str(body["uri"]), self.handle))
        error = error_for_response(response, action)
        if record_key is not None and isinstance(error, TransientPublishError | PostRefused):
            existing = self._existing(record_key, text)
            if existing is not None:
                log.info("post %s was already made by an earlier attempt", existing.tweet_id)
                return existing
        raise error

    def _existing(self, record_key: str, text: str) -> PublishedTweet | None:
        """The post an earlier attempt stored under ``record_key``, if any (None when the PDS has none).

        A record there with another text is another post's (a key can only be reused by mistake): taking
        it for this one would mark this post sent and never post it, so that is refused, loudly.
        """
        response = self._send("GET", "com.atproto.repo.getRecord", "look up the post",
                              params={"repo": self._repo(), "collection": POST_COLLECTION, "rkey": record_key})
        if response.status_code == 200:
            body = response.json()
            found = str((body.get("value") or {}).get("text", ""))
            if found != text:
                raise PostRefused(f"record key {record_key} already holds another post ({body.get('uri')}); "
                                  "this one was not posted.")
            return PublishedTweet(tweet_id=str(body["uri"]), text=found, url=web_url(str(body["uri"]), self.handle))
        if _error_name(response)[0] == "RecordNotFound":
            return None
        raise error_for_response(response, "look up the post")

    def recent_posts(self, max_results: int = 100, since: datetime | None = None) -> list[BlueskyRecentPost]:
        """The account's own newest posts (reposts left out), newest first; with ``since``, all back to then."""
        found: list[BlueskyRecentPost] = []
        cursor: str | None = None
        for _ in range(MAX_FEED_PAGES):
            params: dict[str, Any] = {"actor": self._repo(), "limit": PAGE_SIZE if since else
                                      min(PAGE_SIZE, max(1, max_results - len(found)))}
            if cursor:
                params["cursor"] = cursor
            page = self._json("GET", "app.bsky.feed.getAuthorFeed", "list the account's recent posts",
                              params=params)
            for item in page.get("feed") or []:
                post = item.get("post") or {}
                if item.get("reason") or (post.get("author") or {}).get("did") != self.did:
                    continue
                found.append(_recent(post))
            cursor = page.get("cursor")
            oldest = found[-1].created_at if found else None
            if not cursor or (since is None and len(found) >= max_results) or (
                    since is not None and oldest is not None and oldest < since):
                break
        if since is not None:
            return [post for post in found if post.created_at is None or post.created_at >= since]
        return found[:max_results]

    def post_metrics(self, uris: Sequence[str]) -> dict[str, BlueskyMetrics]:
        """Likes, reposts, replies and quotes of the given posts; unknown ones are left out."""
        metrics: dict[str, BlueskyMetrics] = {}
        for start in range(0, len(uris), METRICS_BATCH):
            body = self._json("GET", "app.bsky.feed.getPosts", "read post metrics",
                              params={"uris": list(uris[start:start + METRICS_BATCH])})
            for post in body.get("posts") or []:
                uri = str(post["uri"])
                metrics[uri] = BlueskyMetrics(uri, int(post.get("likeCount", 0)), int(post.get("repostCount", 0)),
                                              int(post.get("replyCount", 0)), int(post.get("quoteCount", 0)))
        return metrics


def _recent(post: Mapping[str, Any]) -> BlueskyRecentPost:
    record = post.get("record") or {}
    links: list[str] = []
    for facet in record.get("facets") or []:
        for feature in facet.get("features") or []:
            uri = feature.get("uri")
            if str(feature.get("$type", "")).endswith("#link") and uri and uri not in links:
                links.append(str(uri))
    external = (record.get("embed") or {}).get("external") or {}
    if external.get("uri") and external["uri"] not in links:
        links.append(str(external["uri"]))
    created = record.get("createdAt")
    try:
        moment = datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
    except ValueError:
        moment = None
    return BlueskyRecentPost(str(post["uri"]), str(record.get("text", "")), moment, tuple(links))
