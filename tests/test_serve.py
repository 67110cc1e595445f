"""`relay serve` as a real process: posts to the emulator with credentials, dry-run without."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay.testing.x_emulator import EmulatorServer
from tests.feed_server import FeedServer
from tests.feeds import rss_feed
from tests.processes import free_port, relay_env, start_relay, wait_for

SECRETS = {
    "RELAY_X_CONSUMER_KEY": "ck-serve-SECRET-1",
    "RELAY_X_CONSUMER_SECRET": "cs-serve-SECRET-2",
    "RELAY_X_ACCESS_TOKEN": "at-serve-SECRET-3",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-serve-SECRET-4",
}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def feed_url() -> Iterator[str]:
    with FeedServer() as server:
        server.set("/feed/", body=rss_feed(range(1, 4)), headers={"Content-Type": "application/rss+xml"})
        yield server.url("/feed/")


def write_config(tmp_path: Path, feed_url: str) -> Path:
    config = tmp_path / "relay.toml"
    config.write_text(
        f'[polling]\npublish_interval_seconds = 0.2\n[[feeds]]\nurl = "{feed_url}"\nbackfill = 2\n',
        encoding="utf-8",
    )
    return config


def stop(process, log: Path) -> str:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)
    return log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_serve_posts_to_the_emulator_and_never_logs_secrets(
    tmp_path: Path, emulator: EmulatorServer, feed_url: str
) -> None:
    port = free_port()
    env = relay_env(
        RELAY_CONFIG=str(write_config(tmp_path, feed_url)),
        RELAY_SERVER_PORT=str(port),
        RELAY_X_API_BASE_URL=emulator.base_url,
        RELAY_LOG_LEVEL="DEBUG",
        **SECRETS,
    )
    log = tmp_path / "serve.log"
    process = start_relay(["serve"], env, log, tmp_path)
    try:
        wait_for(lambda: len(emulator.tweets()) == 2, what="two tweets at the emulator")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert health["status"] == "ok" and health["dry_run"] is False
    finally:
        output = stop(process, log)
    # uvicorn re-raises the SIGTERM it handled, after a complete graceful shutdown.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "worker stopped" in output
    assert "dry-run" not in output
    for secret in SECRETS.values():
        assert secret not in output
    assert (tmp_path / "relay.db").exists(), "serve applied migrations on its default SQLite file"


@pytest.mark.slow
def test_serve_without_credentials_is_dry_run(tmp_path: Path, emulator: EmulatorServer, feed_url: str) -> None:
    port = free_port()
    env = relay_env(
        RELAY_CONFIG=str(write_config(tmp_path, feed_url)),
        RELAY_SERVER_PORT=str(port),
        RELAY_X_API_BASE_URL=emulator.base_url,
    )
    log = tmp_path / "serve.log"
    process = start_relay(["serve"], env, log, tmp_path)
    try:
        wait_for(lambda: log.read_text(encoding="utf-8").count("dry-run: would post") == 2,
                 what="two dry-run deliveries in the log")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["dry_run"] is True
    finally:
        output = stop(process, log)
    assert "dry-run mode" in output
    assert emulator.tweets() == []
