"""Row 12: guesses are limited per client and logged without the guess; short tokens and secrets handled.

Before: failed logins and Bearer/Basic guesses were neither limited nor logged (about 300
tries a second), any token length was accepted, and secrets under 4 characters were not
blanked in the logs.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay.logs import RedactingFilter
from relay.testing.x_emulator import EmulatorServer
from tests.processes import relay_env, run_relay
from tests.test_webhook_route import RelayApp, relay_app

TOKEN = "t0k3n-for-the-guessing-tests-0123456789"


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayApp]:
    with EmulatorServer() as emulator, relay_app(tmp_path, emulator, RELAY_API_TOKEN=TOKEN) as app:
        yield app


@pytest.mark.slow
@pytest.mark.parametrize("door", ["bearer", "basic", "form"])
def test_after_ten_wrong_tokens_a_client_waits_even_with_the_right_one(
    relay: RelayApp, door: str, caplog: pytest.LogCaptureFixture
) -> None:
    guesses = [f"guess-number-{n}-zzzz" for n in range(10)]

    def attempt(client: httpx.Client, token: str) -> httpx.Response:
        if door == "bearer":
            return client.get("/api/posts", headers={"Authorization": f"Bearer {token}"})
        if door == "basic":
            basic = base64.b64encode(f"owner:{token}".encode()).decode()
            return client.get("/", headers={"Authorization": f"Basic {basic}"})
        return client.post("/login", data={"token": token})

    with caplog.at_level(logging.WARNING, logger="relay.auth"), \
            httpx.Client(base_url=relay.url, timeout=10, follow_redirects=False) as client:
        answers = [attempt(client, guess).status_code for guess in guesses]
        limited = attempt(client, TOKEN)
    assert all(status in (401, 303) for status in answers), answers
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert "wait" in limited.json()["detail"]
    failures = [record for record in caplog.records if record.getMessage() == "failed sign-in"]
    assert len(failures) == len(guesses)
    logged = caplog.text + "".join(str(vars(record)) for record in caplog.records)
    assert not any(guess in logged for guess in guesses), "a guess reached the log"


@pytest.mark.slow
def test_a_token_shorter_than_24_characters_is_refused_at_start(tmp_path: Path) -> None:
    result = run_relay(["serve", "--port", "9"], relay_env(RELAY_API_TOKEN="short-token-1234"), tmp_path, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "at least 24" in result.stderr and "short-token-1234" not in result.stderr + result.stdout


@pytest.mark.parametrize("secret", ["x9", "k3y", "Zq!"])
def test_short_secrets_are_redacted_too(secret: str) -> None:
    assert secret not in RedactingFilter([secret]).redact(f"the value {secret} leaked")
