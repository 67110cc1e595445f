"""What the Mastodon emulator remembers: statuses, uploads, idempotency keys, rate windows, faults.

One lock guards it all: the HTTP app (on uvicorn's thread) and the test (on its own) read and
change it at the same time. Time comes from an injected clock, so a test can move past the hour an
idempotency key lives, or the end of a rate window, without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

IDEMPOTENCY_SECONDS = 3600
"""How long Mastodon remembers an ``Idempotency-Key`` (one hour, in Redis)."""
FIRST_STATUS_ID = 113_000_000_000_000_000
"""Mastodon ids are 64-bit snowflakes, sent as strings, that grow with time."""


@dataclass(frozen=True)
class MastodonEmulatorConfig:
    """How the emulated instance and its one account behave."""

    access_token: str = "mastodon-test-token"
    scopes: frozenset[str] = frozenset({"read", "write"})
    domain: str = "mastodon.example"
    account_id: str = "109000000000000001"
    username: str = "relay"
    max_characters: int = 500
    characters_reserved_per_url: int = 23
    max_media_attachments: int = 4
    description_limit: int = 1500
    image_size_limit: int = 16 * 1024 * 1024
    media_processing_polls: int = 0
    """0: an upload answers 200, ready. N: it answers 202, and ``GET /api/v1/media/:id`` says 206 N times."""
    rate_limit: int = 300
    """Requests per account per window on every authenticated endpoint (Mastodon: 300 per 5 minutes)."""
    status_rate_limit: int = 300
    """``POST /api/v1/statuses`` per window (Mastodon: 300 per 3 hours)."""
    rate_window_seconds: int = 300


@dataclass
class StoredStatus:
    id: str
    text: str
    created_at: float
    media_ids: tuple[str, ...] = ()
    visibility: str = "public"
    spoiler_text: str = ""
    language: str | None = None
    idempotency_key: str | None = None
    favourites_count: int = 0
    reblogs_count: int = 0
    replies_count: int = 0

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_at, UTC)


@dataclass
class StoredMedia:
    id: str
    data: bytes
    mime: str
    description: str | None
    polls_left: int
    """How many more ``GET /api/v1/media/:id`` answer 206 (still processing)."""
    status_id: str | None = None

    @property
    def ready(self) -> bool:
        return self.polls_left <= 0


@dataclass
class Fault:
    """Trouble for the next ``times`` requests to ``method path`` (``path`` may use ``*`` wildcards).

    ``status``: answer that status instead (``{"error": ...}`` body). ``delay``: wait that long first.
    ``accept_then_fail``: do the work, then answer ``status`` anyway (a proxy's 502/504 after the
    instance posted): the case the ``Idempotency-Key`` exists for.
    """

    method: str
    path: str
    status: int | None = 503
    times: int = 1
    delay: float = 0.0
    accept_then_fail: bool = False


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class MastodonEmulatorState:
    config: MastodonEmulatorConfig = field(default_factory=MastodonEmulatorConfig)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._statuses: dict[str, StoredStatus] = {}
            self._media: dict[str, StoredMedia] = {}
            self._keys: dict[str, tuple[str, float]] = {}
            self._windows: dict[str, _Window] = {}
            self._faults: list[Fault] = []
            self._requests: list[dict[str, object]] = []
            self._next_id = FIRST_STATUS_ID
            self.posts_created = 0
            self.idempotent_replays = 0

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # -- statuses ---------------------------------------------------------------------------------

    def replay(self, key: str | None) -> StoredStatus | None:
        """The status an ``Idempotency-Key`` already made within the hour, if any."""
        if key is None:
            return None
        with self._lock:
            found = self._keys.get(key)
            if found is None or self.clock() - found[1] >= IDEMPOTENCY_SECONDS:
                return None
            self.idempotent_replays += 1
            return self._statuses.get(found[0])

    def create_status(self, text: str, media_ids: tuple[str, ...] = (), *, key: str | None = None,
                      visibility: str = "public", spoiler_text: str = "", language: str | None = None,
                      created_at: float | None = None) -> StoredStatus:
        with self._lock:
            if key is not None:  # a second request with the key may have raced this one
                found = self._keys.get(key)
                if found is not None and self.clock() - found[1] < IDEMPOTENCY_SECONDS:
                    self.idempotent_replays += 1
                    return self._statuses[found[0]]
            moment = self.clock() if created_at is None else created_at
            status = StoredStatus(self._new_id(), text, moment, media_ids, visibility, spoiler_text, language, key)
            self._statuses[status.id] = status
            for media_id in media_ids:
                self._media[media_id].status_id = status.id
            if key is not None:
                self._keys[key] = (status.id, moment)
            self.posts_created += 1
            return status

    def status(self, status_id: str) -> StoredStatus | None:
        with self._lock:
            return self._statuses.get(status_id)

    def statuses(self) -> list[StoredStatus]:
        """Every status, oldest first."""
        with self._lock:
            return sorted(self._statuses.values(), key=lambda s: int(s.id))

    def set_counts(self, status_id: str, *, favourites: int = 0, reblogs: int = 0, replies: int = 0) -> None:
        with self._lock:
            status = self._statuses[status_id]
            status.favourites_count, status.reblogs_count, status.replies_count = favourites, reblogs, replies

    # -- media ------------------------------------------------------------------------------------

    def add_media(self, data: bytes, mime: str, description: str | None) -> StoredMedia:
        with self._lock:
            media = StoredMedia(self._new_id(), data, mime, description, self.config.media_processing_polls)
            self._media[media.id] = media
            return media

    def poll_media(self, media_id: str) -> tuple[StoredMedia | None, bool]:
        """The upload, and whether it was still processing when asked (each such ask is one step further)."""
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.polls_left <= 0:
                return media, False
            media.polls_left -= 1
            return media, True

    def unattached_media(self, ids: list[str]) -> list[StoredMedia]:
        """The account's uploads among ``ids`` not yet attached to a status (Mastodon ignores the others)."""
        with self._lock:
            return [m for i in ids if (m := self._media.get(i)) is not None and m.status_id is None]

    def media(self) -> list[StoredMedia]:
        with self._lock:
            return list(self._media.values())

    # -- rate windows -----------------------------------------------------------------------------

    def take_request(self, bucket: str, limit: int) -> tuple[bool, int, float]:
        """Count one request in ``bucket``: (allowed, remaining, window end in Unix seconds)."""
        with self._lock:
            now = self.clock()
            window = self._windows.get(bucket)
            if window is None or now >= window.started + self.config.rate_window_seconds:
                window = self._windows[bucket] = _Window(started=now)
            reset = window.started + self.config.rate_window_seconds
            if window.used >= limit:
                return False, 0, reset
            window.used += 1
            return True, limit - window.used, reset

    def exhaust(self, bucket: str = "account") -> None:
        """Use up a rate window now (``"account"`` or ``"statuses"``)."""
        limit = self.config.rate_limit if bucket == "account" else self.config.status_rate_limit
        with self._lock:
            self._windows[bucket] = _Window(started=self.clock(), used=limit)

    # -- faults and the request log ---------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take_fault(self, method: str, path: str, matches: Callable[[str, str], bool]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and matches(path, fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def log_request(self, entry: dict[str, object]) -> None:
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self._requests)
