"""What the tests of one relay posting on X, Mastodon and Bluesky share: the emulators as
fixtures, the config of the two other accounts, and one worker round.

``tests/conftest.py`` loads this module as a plugin, so its fixtures (``x``, ``mastodon``, ``bluesky``,
``feed_server``) serve every test; a module that defines a fixture of the same name keeps its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from relay.config.settings import Settings
from relay.store.engine import apply_migrations
from relay.testing.bluesky_emulator import EmulatorConfig as BlueskyConfig
from relay.testing.bluesky_emulator_server import BlueskyEmulatorServer
from relay.testing.mastodon_emulator_server import MastodonEmulatorServer
from relay.testing.x_emulator import EmulatorServer
from relay.wiring import build_runtime
from tests.feed_server import FeedServer

X_KEYS = {
    "RELAY_X_CONSUMER_KEY": "ck-networks",
    "RELAY_X_CONSUMER_SECRET": "cs-networks",
    "RELAY_X_ACCESS_TOKEN": "at-networks",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-networks",
}
"""[x]'s four keys, as the X emulator takes any."""


@pytest.fixture
def x() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def mastodon() -> Iterator[MastodonEmulatorServer]:
    with MastodonEmulatorServer() as server:
        yield server


@pytest.fixture
def bluesky() -> Iterator[BlueskyEmulatorServer]:
    with BlueskyEmulatorServer() as server:
        yield server


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def accounts_toml(mastodon: MastodonEmulatorServer, bluesky: BlueskyEmulatorServer) -> str:
    """A Mastodon account "toots" and a Bluesky account "sky", on the emulators (X is the default account)."""
    return (
        '[[accounts]]\nname = "toots"\nnetwork = "mastodon"\n'
        f'instance_url = "{mastodon.base_url}"\naccess_token = "{mastodon.access_token}"\n\n'
        '[[accounts]]\nname = "sky"\nnetwork = "bluesky"\n'
        f'handle = "{BlueskyConfig.handle}"\napp_password = "{BlueskyConfig.app_password}"\n'
        f'service_url = "{bluesky.base_url}"\n\n'
    )


def run_once(settings: Settings) -> None:
    """One round of relay's worker (poll, then publish), as ``relay serve`` runs it."""
    runtime = build_runtime(settings)
    apply_migrations(runtime.store.engine)

    async def run() -> None:
        try:
            await runtime.worker.run_once()
        finally:
            await runtime.aclose()

    asyncio.run(run())
