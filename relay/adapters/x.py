"""Posting to X through tweepy, every failure translated once into relay's error tree.

Three things tweepy does not do are done here. It has no timeout: the transport adds one (5 s to
connect, 30 s to read), so a stalled X cannot hang the worker. It hard-codes
``https://api.twitter.com``: the transport, mounted on tweepy's ``requests`` session for that
prefix, sends every request to ``api_base_url`` instead (the emulator, a proxy). And its
``wait_on_rate_limit`` sleeps inside the call, or recurses forever without a reset header: it is
never used; a 429 becomes :class:`RateLimited` and the outbox decides when to come back.

The OAuth 1.0a signature covers the URL. Requests are signed (by tweepy, through
requests-oauthlib) for ``https://api.twitter.com/...`` before any transport sees them, so after
moving a request to another base the transport signs it again for the URL it is really sent to:
X, and the emulator, verify the signature over the URL they received, and a signature for a URL
nobody receives would be refused. With the default base nothing moves and nothing is re-signed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1
from urllib3.util import Timeout

from relay.adapters.dry_run import DryRunPublisher as DryRunPublisher
from relay.core.policy import MEDIA_METADATA, OWN_POSTS_READ, POSTS_READ, USER_READ
from relay.core.ports import Outgoing, PublishedTweet
from relay.errors import (
    AccountBlocked,
    DuplicateContent,
    PostRefused,
    PublishError,
    RateLimited,
    TransientPublishError,
    TweetRejected,
)

TWEET_PAGE = "https://x.com/i/web/status/{id}"
"""A tweet's page on X, whoever's account it is on."""

log = logging.getLogger("relay.publisher")

X_API = "https://api.twitter.com"
DEFAULT_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds; tweepy itself passes no timeout at all."""
CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes per append of a chunked upload (X takes at most 5 MB a segment)."""
PROCESSING_WAIT_SECONDS = 30.0
"""How long relay waits for X to process an animated image before posting without it."""
DEADLINE_SECONDS = 40.0
"""The longest one request to X may take, connecting and waiting for the answer together.

The outbox keeps a delivery's lease beyond this (plus a margin) from the moment the request
starts, so no other worker can look for the post on X while this request may still land."""
PER_POST_REFUSALS = (
    "not permitted to perform this action",
    "reply to this conversation is not allowed",
    "not permitted to reply",
    "you have not been mentioned",
    "cashtag",
    "quoting this post is not allowed",
    "not allowed to quote",
)
"""Phrases of X's 403 answers that refuse one post, not the account (lower case)."""
_FIELD_UNAUTHORIZED = "/problems/not-authorized-for-field"
_UNUSABLE_BASE_URL = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


@dataclass(frozen=True, repr=False)
class XCredentials:
    """The four OAuth 1.0a strings of the posting account; never shown, not even in a repr."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return "XCredentials(<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True)
class XAccount:
    id: str
    username: str


@dataclass(frozen=True)
class RecentTweet:
    """A tweet of the account, as listed when reconciling after a crash.

    ``text`` has X's t.co links put back to the URLs they stand for (X writes a bare name such as
    ``README.md`` back as ``http://README.md``); ``display_text`` is the text as X shows it.
    """

    id: str
    text: str
    created_at: datetime | None
    display_text: str
    links: tuple[str, ...] = ()
    """The addresses the post links to (each ``expanded_url``, and ``unwound_url`` where X resolved a redirect),
    X's own media links left out."""


@dataclass(frozen=True)
class TweetMetrics:
    """X's counters for one tweet; the private ones are None once X no longer gives them (30 days)."""

    tweet_id: str
    impression_count: int
    like_count: int
    retweet_count: int
    reply_count: int
    quote_count: int
    bookmark_count: int
    url_link_clicks: int | None = None
    user_profile_clicks: int | None = None


def rewrite_url(url: str, base_url: str) -> str:
    """``url`` moved from ``https://api.twitter.com`` onto ``base_url`` (scheme, host, port, path prefix)."""
    original, base = urlsplit(url), urlsplit(base_url)
    if (original.scheme, original.netloc) != ("https", "api.twitter.com"):
        return url
    path = base.path.rstrip("/") + original.path
    return urlunsplit((base.scheme, base.netloc, path, original.query, original.fragment))


class XTransport(HTTPAdapter):
    """The ``requests`` transport tweepy's session uses for X: base URL, re-signing, timeout."""

    def __init__(self, base_url: str, sign: Callable[[Any], Any], timeout: tuple[float, float],
                 deadline: float = DEADLINE_SECONDS) -> None:
        super().__init__()
        self.base_url = base_url
        self._sign = sign
        # urllib3's total bounds connecting and waiting for the answer together, not each step alone.
        self._timeout: Any = Timeout(connect=timeout[0], read=timeout[1], total=deadline)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        target = rewrite_url(request.url or "", self.base_url)
        if target != request.url:
            request.url = target
            authorization = request.headers.get("Authorization") or b""
            if isinstance(authorization, bytes):  # requests-oauthlib may set it as bytes
                authorization = authorization.decode("latin-1")
            if authorization.startswith("OAuth "):
                del request.headers["Authorization"]
                self._sign(request)
            if proxies:  # the session picked proxies for api.twitter.com, not for the real target
                proxies = requests.utils.get_environ_proxies(target)
        return super().send(request, stream, timeout or self._timeout, verify, cert, proxies)


def _problem_text(response: requests.Response) -> tuple[str, str]:
    """X's title and the most specific message of an error answer (detail, or errors[].message)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "", ""
    if not isinstance(body, dict):
        return response.reason or "", ""
    messages = [e.get("message") or e.get("detail") for e in body.get("errors") or [] if isinstance(e, dict)]
    detail = next((str(m) for m in messages if m), None) or str(body.get("detail") or "")
    return str(body.get("title") or response.reason or ""), detail[:300]


def error_for_response(response: requests.Response, action: str) -> PublishError:
    """The relay error for an X error answer. The one place that reads X's status codes."""
    status = response.status_code
    title, detail = _problem_text(response)
    said = f"{status} {title}: {detail}" if detail and detail != title else f"{status} {title}"
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset", "")
        reset_at = float(reset) if reset.isdigit() else None
        when = f" until {datetime.fromtimestamp(reset_at, UTC):%Y-%m-%d %H:%M:%S} UTC" if reset_at else ""
        return RateLimited(f"X rate limit reached while trying to {action} ({said}); wait{when}.", reset_at=reset_at)
    if status >= 500:
        return TransientPublishError(f"X failed while trying to {action} ({said}); retry later.")
    if status == 402:
        return AccountBlocked(
            f"X refused to {action}: the developer account has no API credits left ({said}). "
            "Buy credits in the X developer console (console.x.com), then resume publishing."
        )
    if status == 401:
        return AccountBlocked(
            f"X rejected relay's credentials while trying to {action} ({status} {title}). Check the four "
            "X keys in relay's settings; regenerate the access token if the app's permissions changed."
        )
    if status == 403 and "duplicate content" in detail.lower():
        return DuplicateContent(f"X refused the tweet as a duplicate of an earlier one ({said}).")
    if status == 403 and any(phrase in detail.lower() for phrase in PER_POST_REFUSALS):
        return PostRefused(f"X refused this post ({said}); the account keeps posting.")
    if status == 403 and "too long" not in detail.lower():
        return AccountBlocked(
            f"X forbade relay to {action} ({said}). Check that the X app has Read and Write permission, "
            "that relay uses the account's OAuth 1.0a user keys, and that the account is not locked."
        )
    return TweetRejected(f"X refused to {action} ({said}); sending the same request again will not help.")


def error_for_transport(exc: requests.RequestException, action: str) -> PublishError:
    """The relay error for a request that got no answer from X at all."""
    if isinstance(exc, _UNUSABLE_BASE_URL):
        return AccountBlocked(f"relay's X API base URL is not usable ({type(exc).__name__}); fix the setting.")
    if isinstance(exc, requests.Timeout):
        return TransientPublishError(f"X did not answer in time while trying to {action}; it may still have done it.")
    return TransientPublishError(f"could not reach X to {action} ({type(exc).__name__}); retry later.")


@contextmanager
def _x_errors(action: str) -> Iterator[None]:
    try:
        yield
    except tweepy.HTTPException as exc:
        raise error_for_response(exc.response, action) from exc
    except requests.RequestException as exc:
        raise error_for_transport(exc, action) from exc


def _answer_data(response: requests.Response, action: str) -> dict[str, Any]:
    """The ``data`` object of a raw session answer, or the relay error it stands for."""
    if not response.ok:
        raise error_for_response(response, action)
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    if not isinstance(data, dict):
        raise TransientPublishError(f"X answered without data while trying to {action}.")
    return data


def _is_media_link(entity: Mapping[str, Any]) -> bool:
    """The ``t.co`` link X appends for an attached photo or video: not part of what relay wrote."""
    expanded = str(entity.get("expanded_url") or "")
    return bool(entity.get("media_key")) or bool(_MEDIA_PATH.search(expanded))


_MEDIA_PATH = re.compile(r"^https?://(?:[a-z]+\.)?(?:twitter|x)\.com/[^/]+/status/\d+/(?:photo|video)/\d+$")


def _restore_links(data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The text with each ``t.co`` link put back to its address (media links dropped), and those addresses."""
    text = str(data.get("text", ""))
    links: list[str] = []
    for entity in (data.get("entities") or {}).get("urls") or []:
        short = str(entity.get("url") or "")
        if not short:
            continue
        if _is_media_link(entity):
            text = text.replace(short, "")
            continue
        expanded, unwound = str(entity.get("expanded_url") or ""), str(entity.get("unwound_url") or "")
        links += [url for url in (expanded, unwound) if url and url not in links]
        if expanded:
            text = text.replace(short, expanded)
    return text.strip(), tuple(links)


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _metrics(tweet_id: str, data: Mapping[str, Any]) -> TweetMetrics:
    public = data.get("public_metrics") or {}
    private = data.get("non_public_metrics")
    return TweetMetrics(
        tweet_id=tweet_id,
        impression_count=int(public.get("impression_count", 0)),
        like_count=int(public.get("like_count", 0)),
        retweet_count=int(public.get("retweet_count", 0)),
        reply_count=int(public.get("reply_count", 0)),
        quote_count=int(public.get("quote_count", 0)),
        bookmark_count=int(public.get("bookmark_count", 0)),
        url_link_clicks=int(private["url_link_clicks"]) if private else None,
        user_profile_clicks=int(private["user_profile_clicks"]) if private else None,
    )


class XPublisher:
    """Relay's :class:`relay.core.ports.Publisher` for one X account, over tweepy's v2 client.

    Never retries and never sleeps: every failure is raised at once as a
    :class:`relay.errors.PublishError` subclass, and the outbox decides what happens next.
    """

    def __init__(
        self,
        credentials: XCredentials,
        *,
        api_base_url: str = X_API,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        deadline: float = DEADLINE_SECONDS,
        on_billed: Callable[[str, Sequence[str]], None] | None = None,
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self._on_billed = on_billed
        """Told of every call X bills besides posts: ``(kind, resource ids)`` (see relay.core.policy)."""
        self._auth = OAuth1(
            credentials.consumer_key,
            client_secret=credentials.consumer_secret,
            resource_owner_key=credentials.access_token,
            resource_owner_secret=credentials.access_token_secret,
        )
        self._client = tweepy.Client(
            consumer_key=credentials.consumer_key,
            consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
            wait_on_rate_limit=False,
        )
        self._client.session.mount(f"{X_API}/", XTransport(self.api_base_url, self._auth, timeout, deadline))
        self._account: XAccount | None = None

    def __repr__(self) -> str:
        return f"XPublisher(api_base_url={self.api_base_url!r})"

    @property
    def dry_run(self) -> bool:
        return False

    def publish(self, text: str, media_ids: Sequence[str] | None = None, *,
                outgoing: Outgoing | None = None) -> PublishedTweet:
        """Post a tweet. X has no idempotency key: ``outgoing`` is not used (the outbox looks for the
        tweet on the timeline before a retry instead)."""
        with _x_errors("post a tweet"):
            answer = self._client.create_tweet(text=text, media_ids=list(media_ids) if media_ids else None)
        data = answer.data or {}
        if not data.get("id"):
            raise TransientPublishError("X answered the post without a tweet id; check the timeline first.")
        log.debug("posted tweet %s", data["id"])
        return PublishedTweet(tweet_id=str(data["id"]), text=str(data.get("text", text)),
                              url=TWEET_PAGE.format(id=data["id"]))

    def me(self) -> XAccount:
        """The account the credentials act for (asked once, then remembered)."""
        if self._account is None:
            with _x_errors("read the account"):
                answer = self._client.get_me(user_auth=True)
            if answer.data is None:
                raise TransientPublishError(f"X did not say which account the keys belong to: {answer.errors}")
            self._account = XAccount(id=str(answer.data.id), username=str(answer.data.username))
            self._billed(USER_READ, [self._account.id])
        return self._account

    def recent_tweets(
        self, user_id: str, since_id: str | None = None, max_results: int = 100, since: datetime | None = None
    ) -> list[RecentTweet]:
        """Up to ``max_results`` of the account's newest tweets, newest first.

        Pages stop at ``since_id``, or once a page reaches tweets older than ``since``.
        """
        found: list[RecentTweet] = []
        token: str | None = None
        while len(found) < max_results:
            with _x_errors("list the account's recent tweets"):
                answer = self._client.get_users_tweets(
                    user_id,
                    since_id=since_id,
                    start_time=since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None,
                    max_results=min(100, max(5, max_results)),
                    pagination_token=token,
                    tweet_fields=["created_at", "entities"],
                    user_auth=True,
                )
            owned = self._account is not None and user_id == self._account.id
            self._billed(OWN_POSTS_READ if owned else POSTS_READ, [str(t.data["id"]) for t in answer.data or []])
            for tweet in answer.data or []:
                data = tweet.data
                text, links = _restore_links(data)
                found.append(RecentTweet(str(data["id"]), text, _parse_time(data.get("created_at")),
                                         str(data["text"]), links))
            token = (answer.meta or {}).get("next_token")
            oldest = found[-1].created_at if found else None
            if not token or (since is not None and oldest is not None and oldest < since):
                break
        return found[:max_results]

    def recent_posts(self, max_results: int = 100, since: datetime | None = None) -> list[RecentTweet]:
        """The account's own newest tweets, newest first, links expanded (the port's reconcile call).

        With ``since``, every tweet back to that moment (up to X's 3,200-tweet timeline limit).
        """
        limit = 3200 if since is not None else max_results
        return self.recent_tweets(self.me().id, max_results=limit, since=since)

    def tweet_metrics(self, ids: Sequence[str]) -> dict[str, TweetMetrics]:
        """Counters of the given tweets; unknown ids are left out, private counters None after 30 days."""
        metrics: dict[str, TweetMetrics] = {}
        for start in range(0, len(ids), 100):
            chunk = list(ids[start : start + 100])
            public_only = self._lookup(chunk, ["public_metrics", "non_public_metrics"], metrics)
            if public_only:  # X withholds private metrics of old tweets, and the whole tweet with them
                self._lookup(public_only, ["public_metrics"], metrics)
        return metrics

    def _lookup(self, ids: list[str], fields: list[str], into: dict[str, TweetMetrics]) -> list[str]:
        """Fill ``into``; return the ids X refused some field for (and left out)."""
        with _x_errors("read tweet metrics"):
            answer = self._client.get_tweets(ids, tweet_fields=fields, user_auth=True)
        self._billed(POSTS_READ, [str(tweet.data["id"]) for tweet in answer.data or []])
        for tweet in answer.data or []:
            into[str(tweet.data["id"])] = _metrics(str(tweet.data["id"]), tweet.data)
        refused = {
            str(error.get("resource_id"))
            for error in answer.errors or []
            if str(error.get("type", "")).endswith(_FIELD_UNAUTHORIZED)
        }
        return sorted(refused - into.keys())

    def upload_image(self, data: bytes, mime: str, alt_text: str | None = None) -> str:
        """Upload one image and return its media id, as X documents per type.

        A still image goes in one request (``tweet_image``); a GIF goes through the chunked
        upload (initialize, append, finalize) as ``tweet_gif``, then relay waits for X to
        process it, since a post naming unprocessed media is refused. tweepy 4.17 has neither.
        """
        session = self._client.session
        if mime == "image/gif":
            media_id = self._upload_chunked(data, mime, "tweet_gif")
        else:
            with _x_errors("upload an image"):
                uploaded = session.post(
                    f"{X_API}/2/media/upload",
                    files={"media": ("image", data, mime)},
                    data={"media_category": "tweet_image", "media_type": mime},
                    auth=self._auth,
                )
                media_id = str(_answer_data(uploaded, "upload an image")["id"])
        if alt_text:
            with _x_errors("describe an image"):
                described = session.post(
                    f"{X_API}/2/media/metadata",
                    json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
                    auth=self._auth,
                )
                _answer_data(described, "describe an image")
            self._billed(MEDIA_METADATA, [])
        return media_id

    def _upload_chunked(self, data: bytes, mime: str, category: str) -> str:
        session = self._client.session
        action = "upload an animated image"
        with _x_errors(action):
            started = session.post(f"{X_API}/2/media/upload/initialize", auth=self._auth,
                                   json={"media_type": mime, "total_bytes": len(data), "media_category": category})
            media_id = str(_answer_data(started, action)["id"])
            for index, offset in enumerate(range(0, len(data), CHUNK_BYTES)):
                appended = session.post(f"{X_API}/2/media/upload/{media_id}/append", auth=self._auth,
                                        data={"segment_index": str(index)},
                                        files={"media": ("chunk", data[offset:offset + CHUNK_BYTES],
                                                         "application/octet-stream")})
                if not appended.ok:
                    raise error_for_response(appended, action)
            finished = _answer_data(session.post(f"{X_API}/2/media/upload/{media_id}/finalize", auth=self._auth),
                                    action)
            self._wait_until_processed(media_id, finished.get("processing_info"))
        return media_id

    def _wait_until_processed(self, media_id: str, info: object) -> None:
        """Poll X's status of an upload until it says ``succeeded`` (or give up, and post without it)."""
        waited = 0.0
        while isinstance(info, dict) and info.get("state") in ("pending", "in_progress"):
            pause = min(float(info.get("check_after_secs") or 1), PROCESSING_WAIT_SECONDS - waited)
            if pause <= 0:
                raise TransientPublishError(f"X was still processing media {media_id} after "
                                            f"{PROCESSING_WAIT_SECONDS:.0f} s; posting without it.")
            time.sleep(pause)
            waited += pause
            status = self._client.session.get(f"{X_API}/2/media/upload", auth=self._auth,
                                              params={"command": "STATUS", "media_id": media_id})
            info = _answer_data(status, "check an upload").get("processing_info")
        if isinstance(info, dict) and info.get("state") == "failed":
            reason = (info.get("error") or {}).get("message", "no reason given")
            raise TweetRejected(f"X could not process media {media_id} ({reason}).")

    def _billed(self, kind: str, resources: Sequence[str]) -> None:
        if self._on_billed is not None and (resources or kind == MEDIA_METADATA):
            try:
                self._on_billed(kind, resources)
            except Exception:  # the ledger must never turn a done call into a failed one
                log.exception("could not record what X billed", extra={"kind": kind})
