"""The Bluesky emulator served by uvicorn on a background thread, for tests in the same process.

As for X's (:mod:`relay.testing.x_emulator_server`): the socket is bound here on port 0 before
uvicorn starts, so the port is known and nothing can take it in between; tests drive the emulator
over HTTP and read or script it through :attr:`state`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from relay.testing.bluesky_emulator import BlueskyEmulatorState, EmulatorConfig, create_app
from relay.testing.serving import ServedApp


class BlueskyEmulatorServer(ServedApp):
    """``with BlueskyEmulatorServer(clock=fake) as pds: ...`` runs a PDS emulator at ``pds.base_url``.

    Keyword arguments override fields of :class:`EmulatorConfig`.
    """

    label = "the Bluesky emulator"

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Callable[[], float] = time.time, **overrides: Any) -> None:
        self.state = BlueskyEmulatorState(replace(config or EmulatorConfig(), **overrides), clock=clock)
        super().__init__(host=host, port=port)

    def app(self) -> Any:
        return create_app(self.state)
