"""The Mastodon emulator served by uvicorn on a background thread, for tests in the same process.

As :mod:`relay.testing.x_emulator_server` does for X: the socket is bound here on port 0 before
uvicorn starts, so the port is known and nothing can take it in between; tests drive the emulator
over real HTTP and read or script it through the methods here, which go to the shared, locked state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from relay.testing.mastodon_emulator_app import create_app
from relay.testing.mastodon_emulator_state import (
    Fault,
    MastodonEmulatorConfig,
    MastodonEmulatorState,
    StoredMedia,
    StoredStatus,
)
from relay.testing.serving import ServedApp


class MastodonEmulatorServer(ServedApp):
    """``with MastodonEmulatorServer(max_characters=1000) as m: ...`` runs an instance at ``m.base_url``.

    Keyword arguments override fields of :class:`MastodonEmulatorConfig`.
    """

    label = "the Mastodon emulator"

    def __init__(self, config: MastodonEmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time, **overrides: Any) -> None:
        self.state = MastodonEmulatorState(replace(config or MastodonEmulatorConfig(), **overrides), clock=clock)
        super().__init__(host=host, port=port)

    def app(self) -> Any:
        return create_app(self.state)

    @property
    def access_token(self) -> str:
        return self.state.config.access_token

    # --- direct access for tests ---------------------------------------------------------------

    def statuses(self) -> list[StoredStatus]:
        """Every status the instance holds, oldest first."""
        return self.state.statuses()

    @property
    def posts_created(self) -> int:
        """Statuses really created through the API (idempotent replays not counted)."""
        return self.state.posts_created

    @property
    def idempotent_replays(self) -> int:
        return self.state.idempotent_replays

    def media(self) -> list[StoredMedia]:
        return self.state.media()

    def requests(self) -> list[dict[str, object]]:
        """Method, path, query, status, fault and Idempotency-Key of every request, in order."""
        return self.state.requests()

    def inject(self, path: str = "/api/v1/statuses", *, method: str = "POST", status: int | None = 503,
               times: int = 1, delay: float = 0.0, accept_then_fail: bool = False) -> None:
        """Queue a fault for the next ``times`` requests to ``method path`` (see :class:`Fault`)."""
        self.state.add_fault(Fault(method, path, status, times, delay, accept_then_fail))

    def exhaust_rate_limit(self, bucket: str = "account") -> None:
        self.state.exhaust(bucket)

    def seed_status(self, text: str, created_at: datetime | None = None) -> StoredStatus:
        """A status the account posted earlier, not through the API under test."""
        return self.state.create_status(text, created_at=created_at.timestamp() if created_at else None)

    def set_counts(self, status_id: str, *, favourites: int = 0, reblogs: int = 0, replies: int = 0) -> None:
        self.state.set_counts(status_id, favourites=favourites, reblogs=reblogs, replies=replies)

    def reset(self) -> None:
        self.state.reset()
