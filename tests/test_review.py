"""Review mode over HTTP: tweets wait for the owner, who edits, approves or skips them.

A waiting tweet is never posted; an approved one is an ordinary delivery again (caps apply, and a
second approval changes nothing); a skipped one is never posted; an edited text is weighed as relay
weighs its own (links 23) and refused in the owner's words when X would refuse it or when it lost
its own link. The forms need the session's CSRF token and must come from the dashboard's origin.
The browser side (the live count, the clicks, the tweet on the X emulator) is in
tests/test_review_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from relay.config.settings import Settings
from relay.core.length import weighted_length
from relay.core.policy import Caps
from relay.pipeline import review
from relay.pipeline.service import RelayService
from tests.tracking_app import NOW, TOKEN, StubRuntime, build_app, make_runtime, seed_post

LINK = "https://blog.example/2026/11/post-1/?utm_source=twitter&utm_medium=social&utm_campaign=post-1"


@pytest.fixture
def reviewing(database_url: str) -> StubRuntime:
    """On SQLite and on PostgreSQL (when RELAY_TEST_DATABASE_URL is set)."""
    runtime = make_runtime(database_url, publishing={"review": True, "timezone": "Europe/Paris"})
    runtime.worker.clock = NOW
    seed_post(runtime, 1, title="Le pain au levain", sent=False)
    return runtime


@pytest.fixture
def client(reviewing: StubRuntime) -> Iterator[TestClient]:
    with TestClient(build_app(reviewing), base_url="http://relay.test") as test_client:
        assert test_client.post("/login?lang=fr", data={"token": TOKEN}, follow_redirects=False).status_code == 303
        yield test_client


def waiting_id(runtime: StubRuntime) -> int:
    [waiting] = runtime.store.waiting_for_review()
    return waiting.delivery_id


def csrf_of(client: TestClient) -> str:
    page = client.get("/?lang=fr")
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found, "the review form carries a CSRF token"
    return found.group(1)


def status_of(runtime: StubRuntime, delivery_id: int) -> str:
    return next(d.status for d in runtime.store.list_deliveries() if d.id == delivery_id)


# -- the setting ----------------------------------------------------------------------------------


def test_review_is_off_by_default_and_validated(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    seed_post(runtime, 1, sent=False)
    assert [d.status for d in runtime.store.list_deliveries()] == ["queued"]
    assert Settings().publishing.review is False
    with pytest.raises(ValidationError, match="review"):
        Settings.model_validate({"publishing": {"review": "sometimes"}})


def test_a_waiting_tweet_is_never_posted(reviewing: StubRuntime) -> None:
    delivery_id = waiting_id(reviewing)
    assert status_of(reviewing, delivery_id) == "review"
    report = reviewing.service.publish_due(NOW + timedelta(days=1))
    assert report.sent == [] and status_of(reviewing, delivery_id) == "review"


def test_withdrawing_the_post_skips_its_waiting_tweet(reviewing: StubRuntime) -> None:
    delivery_id = waiting_id(reviewing)
    post_id = reviewing.store.list_deliveries()[0].post_id
    assert reviewing.store.skip_queued(post_id, NOW, reason="trashed") == [delivery_id]
    assert status_of(reviewing, delivery_id) == "skipped"


# -- approving, editing, skipping -------------------------------------------------------------------


def test_approve_with_an_edited_text_then_it_is_posted_once(client: TestClient, reviewing: StubRuntime) -> None:
    delivery_id = waiting_id(reviewing)
    csrf = csrf_of(client)
    edited = f"Notre pain au levain, enfin expliqué pas à pas 🥖 {LINK}"
    answer = client.post(f"/review/{delivery_id}/approve?lang=fr", data={"csrf": csrf, "text": edited},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/?lang=fr&done=approved#review"
    assert reviewing.worker.woken == 1, "the worker looks at the outbox at once"
    [delivery] = reviewing.store.list_deliveries()
    assert (delivery.status, delivery.text, delivery.weighted_length) == ("queued", edited, weighted_length(edited))
    assert "Approuvé" in client.get(answer.headers["location"]).text

    again = client.post(f"/review/{delivery_id}/approve?lang=fr", data={"csrf": csrf, "text": "other " + LINK},
                        follow_redirects=False)
    assert again.headers["location"] == "/?lang=fr&done=gone#review", "a second approval changes nothing"
    report = reviewing.service.publish_due(NOW)
    assert len(report.sent) == 1
    [posted] = reviewing.store.list_deliveries()
    assert posted.status == "sent" and posted.text == edited
    assert [a["outcome"] for a in reviewing.store.attempts_for(delivery_id)] == ["approved", "dry_run"]


def test_an_approved_tweet_keeps_within_the_caps(database_url: str) -> None:
    runtime = make_runtime(database_url, publishing={"review": True})
    runtime.service = RelayService(runtime.store, runtime.publisher, caps=Caps(daily_cap=1))
    runtime.store.review = False
    seed_post(runtime, 1, sent=True, sent_at=NOW - timedelta(hours=2))  # the day's one post, really sent
    runtime.store.review = True
    seed_post(runtime, 2, sent=False)
    delivery_id = waiting_id(runtime)
    assert review.approve(runtime.store, delivery_id, None, NOW).problem is None
    report = runtime.service.publish_due(NOW)
    assert report.sent == [] and "cap" in (report.held_reason or "")
    assert status_of(runtime, delivery_id) == "queued"
    assert len(runtime.service.publish_due(NOW + timedelta(hours=23)).sent) == 1


def test_skip_means_never_posted(client: TestClient, reviewing: StubRuntime) -> None:
    delivery_id = waiting_id(reviewing)
    csrf = csrf_of(client)
    answer = client.post(f"/review/{delivery_id}/skip?lang=en", data={"csrf": csrf, "text": "ignored"},
                         follow_redirects=False)
    assert answer.status_code == 303 and "done=skipped" in answer.headers["location"]
    assert status_of(reviewing, delivery_id) == "skipped"
    assert reviewing.service.publish_due(NOW + timedelta(days=1)).sent == []
    late = client.post(f"/review/{delivery_id}/approve", data={"csrf": csrf}, follow_redirects=False)
    assert "done=gone" in late.headers["location"] and status_of(reviewing, delivery_id) == "skipped"


@pytest.mark.parametrize(
    ("text", "lang", "words"),
    [
        ("Du pain " * 40 + LINK, "fr", f"Trop long : {weighted_length('Du pain ' * 40 + LINK)} caractères, et X en "
                                       "accepte au plus 280"),
        ("Du pain " * 40 + LINK, "en", f"Too long: {weighted_length('Du pain ' * 40 + LINK)} characters, and X "
                                       "takes at most 280"),
        ("   ", "fr", "Le tweet est vide"),
        ("Notre pain, sans lien", "fr", "Gardez le lien vers votre article"),
        ("Keep me " + LINK, "en", None),
        ("x" * 5000 + LINK, "en", "Too long"),
    ],
)
def test_an_edited_text_x_would_refuse_is_refused_in_words(client: TestClient, reviewing: StubRuntime, text: str,
                                                            lang: str, words: str | None) -> None:
    delivery_id = waiting_id(reviewing)
    answer = client.post(f"/review/{delivery_id}/approve?lang={lang}", data={"csrf": csrf_of(client), "text": text},
                         follow_redirects=False)
    if words is None:
        assert answer.status_code == 303
        return
    assert answer.status_code == 422
    assert words in answer.text.replace("\u00a0", " ")
    assert 'aria-invalid="true"' in answer.text
    if len(text) < 2000 and text.strip():
        assert f">{text.replace('&', '&amp;')}</textarea>" in answer.text, "the owner's text is kept for fixing"
    assert status_of(reviewing, delivery_id) == "review"


def test_the_live_count_weighs_like_relay(client: TestClient, reviewing: StubRuntime) -> None:
    csrf = csrf_of(client)
    delivery_id = waiting_id(reviewing)
    text = "Pain « maison » … https://boulangerie.fr/une/tres/longue/adresse/qui/ne/compte/que/vingt-trois README.md"
    answer = client.post("/review/count?lang=fr", data={"csrf": csrf, "text": text, "delivery": str(delivery_id)})
    assert answer.status_code == 200
    body = answer.json()
    assert body["length"] == weighted_length(text) == 66, "each link 23 (README.md is one), … weighs 2, « » 1"
    assert body["problem"] == "link_missing" and "Gardez le lien" in body["message"]
    assert body["counter"] == "66 sur 280 caractères"
    over = client.post("/review/count?lang=en", data={"csrf": csrf, "text": "é" * 300}).json()
    assert (over["length"], over["problem"]) == (300, "too_long") and over["message"].startswith("Too long: 300")


# -- who may act ------------------------------------------------------------------------------------


def test_the_forms_need_the_csrf_token_and_the_dashboards_origin(client: TestClient,
                                                                  reviewing: StubRuntime) -> None:
    delivery_id = waiting_id(reviewing)
    csrf = csrf_of(client)
    for data, headers in (
        ({"text": "x " + LINK}, {}),
        ({"csrf": "0" * 64, "text": "x " + LINK}, {}),
        ({"csrf": csrf, "text": "x " + LINK}, {"origin": "https://evil.example"}),
        ({"csrf": csrf, "text": "x " + LINK}, {"origin": "null"}),
    ):
        for action in ("approve", "skip"):
            answer = client.post(f"/review/{delivery_id}/{action}?lang=en", data=data, headers=headers,
                                 follow_redirects=False)
            assert answer.status_code == 403 and "This form has expired" in answer.text
    assert client.post("/review/count", data={"text": "x"}).status_code == 403
    same_origin = client.post(f"/review/{delivery_id}/skip", data={"csrf": csrf},
                              headers={"origin": "http://relay.test"}, follow_redirects=False)
    assert same_origin.status_code == 303
    assert status_of(reviewing, delivery_id) == "skipped"


def test_strangers_are_sent_to_sign_in(reviewing: StubRuntime) -> None:
    delivery_id = waiting_id(reviewing)
    with TestClient(build_app(reviewing)) as stranger:
        answer = stranger.post(f"/review/{delivery_id}/approve", data={"csrf": "x"}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert stranger.post("/review/0/skip", data={}).status_code == 422
        assert stranger.post(f"/review/{2**63}/skip", data={}).status_code == 422
    assert status_of(reviewing, delivery_id) == "review"


def test_the_page_lists_the_waiting_tweet_in_both_languages(client: TestClient, reviewing: StubRuntime) -> None:
    french = client.get("/?lang=fr").text
    assert "En attente de votre accord (1)" in french and "Publier ce tweet" in french
    assert "attend votre accord" in french
    english = client.get("/?lang=en").text
    assert "Waiting for your approval (1)" in english and "Post this tweet" in english
    assert "Don&#39;t post it" in english
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"] and headers["referrer-policy"] == "same-origin"
    script = client.get("/static/review.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
