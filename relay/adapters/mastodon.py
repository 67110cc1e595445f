"""Posting to one Mastodon account through the REST API, every failure translated once into relay's errors.

**httpx, not Mastodon.py.** Mastodon.py would bring ``requests``, ``python-dateutil``, ``decorator``
and ``blurhash`` for the five calls relay makes; its default rate-limit mode (``"wait"``) sleeps
inside the call until the window resets, which would hold a worker for minutes (``"throw"`` must be
asked for on every client); it passes no timeout unless given one; and its exceptions
(``MastodonAPIError`` with positional ``args``) would need the same translation as raw answers. httpx
is already relay's HTTP client (feeds, pages), typed under ``mypy --strict``, and gives a bounded
timeout on each phase, to which :mod:`relay.adapters.http_deadline` adds one deadline for the whole
exchange (within X's, which the outbox's lease covers). So this module pays for no import a relay
without Mastodon would not load anyway; :mod:`relay.wiring` should still import it only in the
branch that builds a Mastodon account, as it does for X.

**Exactly once.** ``publish(..., idempotency_key=...)`` sends the ``Idempotency-Key`` header: Mastodon
remembers the key for an hour and answers a retry with the status the first request made. So after a
timeout or a 5xx (:class:`TransientPublishError`, "it may have posted") the outbox retries *with the
same key*, and cannot make a second status; beyond the hour it must look with :meth:`recent_posts`
first, as it does for X.

**No secret in errors.** The access token travels only in the ``Authorization`` header; no message,
``repr`` or log line carries it, and redirects are not followed (a redirect would otherwise send the
header to wherever it points). Pagination reads only ``max_id`` from ``Link`` headers and asks the
configured base URL again, never the host a header names.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from relay.core.mastodon_text import MastodonLimits
from relay.core.ports import Outgoing, PublishedTweet
from relay.errors import (
    AccountBlocked,
    PostRefused,
    PublishError,
    RateLimited,
    TransientPublishError,
    TweetRejected,
)

log = logging.getLogger("relay.publisher")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Connect 5 s; read, write and waiting for a pooled connection 30 s each."""
PROCESSING_WAIT_SECONDS = 30.0
"""How long relay waits for the instance to process an upload before giving up on it."""
PROCESSING_POLL_SECONDS = 1.0
PAGE_SIZE = 40
"""The most ``GET /api/v1/accounts/:id/statuses`` gives in one page."""
SINCE_CAP = 1000
"""With ``since``, at most this many statuses are read back (25 pages)."""
MAX_MESSAGE = 300
DESCRIPTION_LIMIT = MastodonLimits().description_limit
"""Mastodon refuses a longer image description (1,500 by default): a longer one is cut, not the upload lost."""


@dataclass(frozen=True)
class MastodonAccount:
    id: str
    username: str
    url: str


@dataclass(frozen=True)
class RecentStatus:
    """A status of the account, as listed when reconciling after a crash (the port's ``PostedTweet``)."""

    id: str
    text: str
    """The plain text, read back from Mastodon's HTML (paragraphs, line breaks, whole URLs)."""
    created_at: datetime | None
    links: tuple[str, ...] = ()
    """The addresses the status links to (hashtag and mention links left out)."""
    url: str = ""


@dataclass(frozen=True)
class StatusMetrics:
    status_id: str
    favourites_count: int
    reblogs_count: int
    replies_count: int


class _ContentReader(HTMLParser):
    """The text and links of a status's ``content`` HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._paragraphs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "p":
            if self._paragraphs:
                self.parts.append("\n\n")
            self._paragraphs += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "a":
            href, classes = values.get("href") or "", (values.get("class") or "").split()
            if href and "mention" not in classes and "hashtag" not in classes and href not in self.links:
                self.links.append(href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def read_content(content: str) -> tuple[str, tuple[str, ...]]:
    """``(plain text, links)`` of a status's HTML, as Mastodon renders what relay posted."""
    reader = _ContentReader()
    reader.feed(content)
    reader.close()
    return html.unescape("".join(reader.parts)).strip(), tuple(reader.links)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or ""
    message = body.get("error") if isinstance(body, dict) else None
    return str(message or response.reason_phrase or "")[:MAX_MESSAGE]


def _reset_at(response: httpx.Response) -> float | None:
    """``X-RateLimit-Reset`` (an ISO 8601 time on Mastodon) as Unix seconds."""
    value = response.headers.get("x-ratelimit-reset", "")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return float(value) if value.isdigit() else None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def error_for_response(response: httpx.Response, action: str) -> PublishError:
    """The relay error for a Mastodon error answer. The one place that reads Mastodon's status codes."""
    status = response.status_code
    detail = _error_text(response)
    said = f"{status}: {detail}" if detail else str(status)
    if status == 429:
        reset_at = _reset_at(response)
        when = f" until {datetime.fromtimestamp(reset_at, UTC):%Y-%m-%d %H:%M:%S} UTC" if reset_at else ""
        return RateLimited(f"Mastodon rate limit reached while trying to {action} ({said}); wait{when}.",
                           reset_at=reset_at)
    if status >= 500 or status == 408:
        return TransientPublishError(f"the Mastodon instance failed while trying to {action} ({said}); retry later.")
    if status == 401:
        return AccountBlocked(f"the Mastodon instance rejected relay's access token while trying to {action} "
                              f"({said}). Make a new token (Preferences > Development > your application) "
                              "with the read and write scopes, and put it in relay's settings.")
    if status == 403:
        return AccountBlocked(f"the Mastodon instance forbade relay to {action} ({said}). Check that the token "
                              "has the write scope and that the account is not suspended or limited.")
    if status == 422 and "not finished processing" in detail.lower():
        return TransientPublishError(f"the Mastodon instance is still processing an image ({said}); retry later.")
    if status == 422 and "character limit" in detail.lower():
        return TweetRejected(f"the Mastodon instance refused the status as too long ({said}); "
                             "a shorter text is needed.")
    if status == 422:
        return PostRefused(f"the Mastodon instance refused this status ({said}); the account keeps posting.")
    if status in (404, 410) and action != "post a status":
        return AccountBlocked(f"the Mastodon instance has no such address while trying to {action} ({said}); "
                              "check relay's Mastodon base URL.")
    return TweetRejected(f"the Mastodon instance refused to {action} ({said}); the same request will not help.")


@contextmanager
def _mastodon_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise AccountBlocked(f"relay's Mastodon base URL is not usable ({type(exc).__name__}); fix the setting.") \
            from exc
    except httpx.TimeoutException as exc:
        raise TransientPublishError(f"the Mastodon instance did not answer in time while trying to {action}; "
                                    "it may still have done it.") from exc
    except httpx.HTTPError as exc:
        raise TransientPublishError(f"could not reach the Mastodon instance to {action} "
                                    f"({type(exc).__name__}); retry later.") from exc


def _json(response: httpx.Response, action: str) -> Any:
    if response.status_code >= 300:
        raise error_for_response(response, action)
    try:
        return response.json()
    except ValueError as exc:
        raise TransientPublishError(f"the Mastodon instance answered without JSON while trying to {action}.") from exc


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _next_max_id(response: httpx.Response) -> str | None:
    """The ``max_id`` of the ``rel="next"`` page in a ``Link`` header (its host is not trusted)."""
    target = response.links.get("next", {}).get("url")
    if not target:
        return None
    values = parse_qs(urlsplit(target).query).get("max_id")
    return values[0] if values else None


class MastodonPublisher:
    """Relay's :class:`relay.core.ports.Publisher` for one Mastodon account.

    Never retries and never sleeps, except while an upload is processed: every failure is raised at
    once as a :class:`relay.errors.PublishError` subclass, and the outbox decides what happens next.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        visibility: str = "public",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        processing_wait: float = PROCESSING_WAIT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.visibility = visibility
        self._sleep = sleep
        self._processing_wait = processing_wait
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                    follow_redirects=False,
                                    headers={"Authorization": f"Bearer {access_token}", "User-Agent": "relay"})
        self._account: MastodonAccount | None = None

    def __repr__(self) -> str:
        return f"MastodonPublisher(base_url={self.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MastodonPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dry_run(self) -> bool:
        return False

    def _request(self, method: str, path: str, action: str, **kwargs: Any) -> httpx.Response:
        with _mastodon_errors(action):
            return self._client.request(method, path, **kwargs)

    def publish(self, text: str, media_ids: Sequence[str] | None = None, *,
                idempotency_key: str | None = None, outgoing: Outgoing | None = None) -> PublishedTweet:
        """Post ``text`` as a status; with ``idempotency_key`` (or the delivery's, from ``outgoing``),
        a retry within the hour cannot post it twice."""
        action = "post a status"
        if idempotency_key is None and outgoing is not None:
            idempotency_key = outgoing.key
        body: dict[str, Any] = {"status": text, "visibility": self.visibility}
        if media_ids:
            body["media_ids"] = list(media_ids)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        answer = _json(self._request("POST", "/api/v1/statuses", action, json=body, headers=headers), action)
        status_id = answer.get("id") if isinstance(answer, dict) else None
        if not status_id:
            raise TransientPublishError("the Mastodon instance answered the post without a status id; "
                                        "check the account's statuses first.")
        log.debug("posted status %s", status_id)
        return PublishedTweet(tweet_id=str(status_id), text=text, url=str(answer.get("url") or "") or None)

    def upload_image(self, data: bytes, mime: str, alt_text: str | None = None) -> str:
        """Upload one image with its description; wait (bounded) until the instance has processed it."""
        action = "upload an image"
        form = {"description": alt_text[:DESCRIPTION_LIMIT]} if alt_text else {}
        response = self._request("POST", "/api/v2/media", action, files={"file": ("image", data, mime)}, data=form)
        answer = _json(response, action)
        media_id = str(answer.get("id") or "") if isinstance(answer, dict) else ""
        if not media_id:
            raise TransientPublishError("the Mastodon instance answered the upload without a media id.")
        if response.status_code == 202:
            self._wait_until_processed(media_id)
        return media_id

    def _wait_until_processed(self, media_id: str) -> None:
        waited = 0.0
        while True:
            pause = min(PROCESSING_POLL_SECONDS, self._processing_wait - waited)
            if pause <= 0:
                raise TransientPublishError(f"the Mastodon instance was still processing image {media_id} after "
                                            f"{self._processing_wait:.0f} s.")
            self._sleep(pause)
            waited += pause
            response = self._request("GET", f"/api/v1/media/{media_id}", "check an upload")
            if response.status_code == 200:
                return
            if response.status_code != 206:
                raise error_for_response(response, "check an upload")

    def me(self) -> MastodonAccount:
        """The account the token acts for (asked once, then remembered)."""
        if self._account is None:
            action = "read the account"
            answer = _json(self._request("GET", "/api/v1/accounts/verify_credentials", action), action)
            if not isinstance(answer, dict) or not answer.get("id"):
                raise TransientPublishError("the Mastodon instance did not say which account the token is for.")
            self._account = MastodonAccount(str(answer["id"]), str(answer.get("username", "")),
                                            str(answer.get("url", "")))
        return self._account

    def instance_limits(self) -> MastodonLimits:
        """The instance's status length, URL weight and media limits (``GET /api/v2/instance``)."""
        action = "read the instance's limits"
        answer = _json(self._request("GET", "/api/v2/instance", action), action)
        return MastodonLimits.from_instance(answer if isinstance(answer, Mapping) else {})

    def recent_posts(self, max_results: int = 100, since: datetime | None = None) -> list[RecentStatus]:
        """The account's own newest statuses, newest first, with their links (the port's reconcile call).

        With ``since``, every status back to that moment (up to :data:`SINCE_CAP`).
        """
        limit = SINCE_CAP if since is not None else max_results
        account_id = self.me().id
        action = "list the account's recent statuses"
        found: list[RecentStatus] = []
        max_id: str | None = None
        while len(found) < limit:
            params: dict[str, str | int] = {"limit": min(PAGE_SIZE, max(1, limit - len(found))),
                                            "exclude_reblogs": "true"}
            if max_id:
                params["max_id"] = max_id
            response = self._request("GET", f"/api/v1/accounts/{account_id}/statuses", action, params=params)
            page = _json(response, action)
            if not isinstance(page, list) or not page:
                break
            for item in page:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                text, links = read_content(str(item.get("content") or ""))
                found.append(RecentStatus(str(item["id"]), text, _parse_time(item.get("created_at")), links,
                                          str(item.get("url") or "")))
            max_id = _next_max_id(response)
            oldest = found[-1].created_at if found else None
            if not max_id or (since is not None and oldest is not None and oldest < since):
                break
        if since is not None:
            found = [s for s in found if s.created_at is None or s.created_at >= since]
        return found[:limit]

    def status_metrics(self, ids: Sequence[str]) -> dict[str, StatusMetrics]:
        """Favourites, boosts and replies of the given statuses; deleted ones are left out."""
        metrics: dict[str, StatusMetrics] = {}
        for status_id in ids:
            response = self._request("GET", f"/api/v1/statuses/{status_id}", "read a status's counts")
            if response.status_code in (404, 410):
                continue
            answer = _json(response, "read a status's counts")
            if isinstance(answer, dict):
                metrics[status_id] = StatusMetrics(status_id, int(answer.get("favourites_count") or 0),
                                                   int(answer.get("reblogs_count") or 0),
                                                   int(answer.get("replies_count") or 0))
        return metrics
