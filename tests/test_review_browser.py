"""Review mode end to end: the real relay (webhook door, worker, outbox) posting to the X emulator,
the owner in Debian's chromium.

A post arrives by the WordPress webhook and waits; nothing reaches X. In the browser the owner edits
the text and watches the count follow (relay's own count: the link weighs 23), sees a too-long text
refused as they type, approves, and the emulator receives exactly the edited text, once. A second
post is skipped and never reaches X. axe-core checks the page with a refused text on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.core.length import weighted_length
from relay.testing.x_emulator import EmulatorServer
from tests.processes import wait_for
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, _playwright, serious_violations
from tests.test_webhook_route import RelayApp, relay_app
from tests.test_wordpress_payload import connector_payload

pytestmark = pytest.mark.slow
TOKEN = "review-token-for-the-browser-test"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def relay(tmp_path: Path, emulator: EmulatorServer) -> Iterator[RelayApp]:
    config = '[publishing]\nreview = true\ntimezone = "Europe/Paris"\n'
    with relay_app(tmp_path, emulator, config=config, RELAY_API_TOKEN=TOKEN) as app:
        yield app


def test_edit_approve_and_skip_in_the_browser(relay: RelayApp, emulator: EmulatorServer) -> None:
    sync_playwright = _playwright()
    assert relay.send(connector_payload(12, title="Le pain au levain, pas à pas")).status_code == 202
    [waiting] = relay.runtime.store.waiting_for_review()
    time.sleep(1.5)  # the webhook woke the worker: it must have left the waiting tweet alone
    assert emulator.tweets() == [] and relay.delivery_states() == ["review"]

    edited = f"Notre levain, expliqué pas à pas : farine, eau, sel et patience. {waiting.link}"
    too_long = "Du pain, encore du pain. " * 12 + waiting.link
    assert weighted_length(too_long) > 280 >= weighted_length(edited)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 360, "height": 800}, locale="fr-FR")
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{relay.url}/login?lang=fr")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{relay.url}/?lang=fr")

            area = page.locator(f"#text-{waiting.delivery_id}")
            counter = page.locator(f"#count-{waiting.delivery_id}")
            problem = page.locator(f"#problem-{waiting.delivery_id}")
            assert area.input_value() == waiting.text
            assert counter.inner_text() == f"{weighted_length(waiting.text)} sur 280 caractères"

            area.fill(too_long)
            page.wait_for_function(f"() => document.querySelector('#count-{waiting.delivery_id}').textContent"
                                   f".startsWith('{weighted_length(too_long)} ')")
            assert problem.is_visible() and "Trop long" in problem.inner_text()
            assert area.get_attribute("aria-invalid") == "true"
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / "review-fr-360-too-long.png"), full_page=False)
            assert serious_violations(page) == []

            with page.expect_navigation():
                page.click("text=Publier ce tweet")  # sent anyway: relay refuses it, in words
            assert "Trop long" in page.locator(f"#problem-{waiting.delivery_id}").inner_text()
            assert relay.delivery_states() == ["review"] and emulator.tweets() == []

            area = page.locator(f"#text-{waiting.delivery_id}")
            area.fill(edited)
            page.wait_for_function(f"() => document.querySelector('#count-{waiting.delivery_id}').textContent"
                                   f" === '{weighted_length(edited)} sur 280 caractères'")
            assert page.locator(f"#problem-{waiting.delivery_id}").is_hidden()
            page.click("text=Publier ce tweet")
            page.wait_for_url("**done=approved**")
            assert "Approuvé" in page.locator(".notice").inner_text()
            wait_for(lambda: len(emulator.tweets()) == 1, what="the approved tweet on X")
            assert emulator.tweets()[0].text == edited

            assert relay.send(connector_payload(13, title="La brioche du dimanche")).status_code == 202
            page.goto(f"{relay.url}/?lang=fr")
            [second] = relay.runtime.store.waiting_for_review()
            page.locator(f"article.waiting[data-delivery-id='{second.delivery_id}']").get_by_text(
                "Ne pas le publier").click()
            page.wait_for_url("**done=skipped**")
            page.screenshot(path=str(SHOTS / "review-fr-360-after.png"), full_page=True)
            assert [e for e in errors if "status of 422" not in e] == [], "only the refused text's 422"
        finally:
            browser.close()

    relay.runtime.worker.wake()
    time.sleep(1.5)
    assert [t.text for t in emulator.tweets()] == [edited], "the approved text once; the skipped post never"
    assert relay.delivery_states() == ["sent", "skipped"]
