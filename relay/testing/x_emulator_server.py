"""The emulator served by uvicorn on a background thread, for tests in the same process.

The socket is bound on port 0 before uvicorn starts (:class:`relay.testing.serving.ServedApp`, shared
with the other networks' emulators), so the port is known and no other process can take it in
between (a "find a free port, then bind" dance would race). Tests
drive the emulator through its real HTTP interface and read or script it through the methods
here, which go straight to the shared, locked state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from relay.testing.serving import ServedApp
from relay.testing.x_emulator_app import create_app
from relay.testing.x_emulator_state import (
    Charge,
    EmulatorConfig,
    EmulatorState,
    Fault,
    StoredMedia,
    StoredTweet,
)


class EmulatorServer(ServedApp):
    """``with EmulatorServer(credits=3) as x: ...`` runs an X emulator at ``x.base_url``.

    Keyword arguments override fields of :class:`EmulatorConfig` (``keys=``, ``credits=``,
    ``tweet_rate_limit=`` ...).
    """

    label = "the X emulator"

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> None:
        self.state = EmulatorState(replace(config or EmulatorConfig(), **overrides), clock=clock)
        super().__init__(host=host, port=port)

    def app(self) -> Any:
        return create_app(self.state)

    # --- direct access for tests ---------------------------------------------------------------

    def tweets(self) -> list[StoredTweet]:
        """Every tweet the emulator accepted (or was seeded with), oldest first."""
        return self.state.tweets()

    def inject(
        self,
        path: str = "/2/tweets",
        *,
        method: str = "POST",
        status: int | None = None,
        times: int = 1,
        reset_in: int = 900,
        delay: float = 0.0,
        accept_then_fail: bool = False,
        detail: str | None = None,
        answer_late: bool = False,
        refusal: str | None = None,
    ) -> None:
        """Queue a fault for the next ``times`` requests to ``method path`` (see :class:`Fault`).

        ``delay`` alone: X takes that long before it even handles the request. ``answer_late=True``:
        X handles it at once and answers ``delay`` seconds later (the post exists while the client
        waits). ``refusal="cashtags"`` (or ``reply_restricted``, ``not_permitted``, ``duplicate``):
        X's 403 for that one post.
        """
        self.state.add_fault(
            Fault(method, path, status, times, reset_in, delay, accept_then_fail, detail, answer_late, refusal)
        )

    def reset(self) -> None:
        self.state.reset()

    def set_credits(self, remaining: int | None) -> None:
        self.state.set_credits(remaining)

    def credits_left(self) -> int | None:
        """The pay-per-use balance in credits of $0.001 (None: unlimited)."""
        return self.state.credits()

    def set_metrics(
        self, tweet_id: str, public: dict[str, int] | None = None, non_public: dict[str, int] | None = None
    ) -> None:
        if not self.state.set_metrics(tweet_id, public or {}, non_public or {}):
            raise KeyError(tweet_id)

    def seed_tweet(self, text: str, created_at: datetime | None = None, *, kind: str = "post") -> StoredTweet:
        """A tweet the account posted earlier (not through the API under test); costs no credit.

        ``kind`` ``"reply"`` or ``"retweet"`` makes one that the timeline's ``exclude`` leaves out.
        """
        moment = created_at.timestamp() if created_at else self.state.clock()
        return self.state.create_tweet(text, (), created_at=moment, check_duplicate=False, kind=kind)

    def set_timeline_delay(self, seconds: float) -> None:
        """New posts show in GET /2/users/:id/tweets only ``seconds`` after X accepted them."""
        self.state.set_timeline_delay(seconds)

    def set_unwound(self, url: str, unwound_url: str | None, status: int = 200) -> None:
        """Where X finds ``url`` to lead (for posts made from now on); None: X could not fetch it."""
        self.state.set_unwound(url, unwound_url, status)

    def charges(self) -> list[Charge]:
        """Every billed call, oldest first, with the credits ($0.001 each) it cost."""
        return self.state.charges()

    def media(self) -> list[StoredMedia]:
        return self.state.media()

    def requests(self) -> list[dict[str, object]]:
        """Method, path, query, status and auth scheme of every X request received, in order."""
        return self.state.requests()
